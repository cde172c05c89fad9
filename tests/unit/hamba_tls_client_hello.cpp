// The ClientHello peeker finds the server name in a real hello, however it is cut into records
// and segments, and tells plain text, truncation and nonsense apart.
#include "net/tls_client_hello.h"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace hamba;
using net::ClientHelloStatus;

namespace {

std::string unhex(const char* hex) {
  std::string out;
  for (const char* p = hex; p[0] && p[1]; p += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16)));
  return out;
}

// Captured from `openssl s_client -servername a.test` (OpenSSL 3.0, TLS 1.3) to a local socket.
const std::string kRealHello = unhex("16030101330100012f0303ae0988d2dc8a4f337de93d3b0523f9e7b7700ff"
                                     "fede3708610ab69e52363e9f820026cdcfe"
                                     "1d04c1568ccd1328a6759bbba821d8a3f5add3044502a4081d143dae003e1"
                                     "30213031301c02cc030009fcca9cca8ccaa"
                                     "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c01300330"
                                     "09d009c003d003c0035002f00ff010000a8"
                                     "0000000b0009000006612e74657374000b000403000102000a00160014001"
                                     "d0017001e00190018010001010102010301"
                                     "04002300000016000000170000000d002a002804030503060308070808080"
                                     "9080a080b08040805080604010501060103"
                                     "0303010302040205020602002b0009080304030303020301002d000201010"
                                     "03300260024001d002005a23ee6af621a96"
                                     "56f9108a6653b403fc220b239516cdb280c7d36da575830a");

std::string u16(size_t v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// A ClientHello handshake message with the given extensions block (empty: none at all).
std::string hello_message(const std::string& extensions, bool with_extensions = true) {
  std::string body = u16(0x0303) + std::string(32, 'r') + std::string(1, '\0') + u16(2) +
                     u16(0x1301) + std::string("\x01\x00", 2);
  if (with_extensions)
    body += u16(extensions.size()) + extensions;
  return std::string("\x01", 1) + std::string(1, '\0') + u16(body.size()) + body;
}

std::string sni_extension(const std::string& name) {
  std::string entry = std::string(1, '\0') + u16(name.size()) + name;
  std::string list = u16(entry.size()) + entry;
  return u16(0) + u16(list.size()) + list;
}

// Cuts a handshake message into records of at most `fragment` bytes.
std::string in_records(const std::string& message, size_t fragment) {
  std::string out;
  for (size_t at = 0; at < message.size(); at += fragment) {
    std::string piece = message.substr(at, fragment);
    out += std::string("\x16\x03\x01", 3) + u16(piece.size()) + piece;
  }
  return out;
}

net::ClientHelloResult peek(const std::string& s) {
  return net::peek_client_hello(s.data(), s.size());
}

} // namespace

TEST_CASE("a real ClientHello gives its server name, and every prefix asks for more") {
  auto r = peek(kRealHello);
  REQUIRE(r.status == ClientHelloStatus::done);
  CHECK(r.server_name() == "a.test");
  for (size_t n = 0; n < kRealHello.size(); ++n)
    REQUIRE(net::peek_client_hello(kRealHello.data(), n).status == ClientHelloStatus::need_more);
  // Bytes after the hello (a client sending early data) change nothing.
  CHECK(peek(kRealHello + std::string("\x17\x03\x03\x00\x01z", 6)).server_name() == "a.test");
}

TEST_CASE("a ClientHello split over many records parses, whatever the cut") {
  const std::string message = kRealHello.substr(5);
  for (size_t fragment : {1, 2, 3, 4, 5, 7, 11, 64, 100, 300}) {
    std::string records = in_records(message, fragment);
    INFO("fragment " << fragment);
    auto r = peek(records);
    REQUIRE(r.status == ClientHelloStatus::done);
    CHECK(r.server_name() == "a.test");
    for (size_t n = 0; n < records.size(); n += 97)
      CHECK(net::peek_client_hello(records.data(), n).status == ClientHelloStatus::need_more);
  }
}

TEST_CASE("names are lower-cased; no extensions or no server_name give no name") {
  CHECK(peek(in_records(hello_message(sni_extension("B.Test")), 1000)).server_name() == "b.test");
  auto none = peek(in_records(hello_message("", false), 1000));
  CHECK(none.status == ClientHelloStatus::done);
  CHECK(none.server_name().empty());
  auto other = peek(in_records(hello_message(u16(23) + u16(0)), 1000));
  CHECK(other.status == ClientHelloStatus::done);
  CHECK(other.server_name().empty());
  std::string longest(63, 'a');
  longest += "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
  REQUIRE(longest.size() == 253);
  CHECK(peek(in_records(hello_message(sni_extension(longest)), 1000)).server_name() == longest);
}

TEST_CASE("plain text, SSLv2 and other records are not TLS") {
  CHECK(peek("GET / HTTP/1.1\r\n").status == ClientHelloStatus::not_tls);
  CHECK(peek("\x80\x2e\x01\x00\x02").status == ClientHelloStatus::not_tls);
  CHECK(peek(std::string("\x16\x02", 2)).status == ClientHelloStatus::not_tls);
  CHECK(peek(std::string("\x17\x03\x03\x00\x05hello", 10)).status == ClientHelloStatus::not_tls);
}

TEST_CASE("malformed hellos are refused with a reason") {
  auto malformed = [](const std::string& s) {
    auto r = peek(s);
    INFO("size " << s.size() << " reason " << r.reason);
    CHECK(r.status == ClientHelloStatus::malformed);
    return std::string(r.reason);
  };
  std::string message = kRealHello.substr(5);
  malformed(std::string("\x16\x03\x01\x00\x00", 5));                 // empty record
  malformed(std::string("\x16\x03\x01\x40\x01", 5));                 // record over 2^14
  malformed(std::string("\x16\x03\x01\x00\x04\x02\x00\x00\x00", 9)); // ServerHello
  malformed(in_records(message.substr(0, 10), 10) + "\x17");         // interleaved
  CHECK(malformed(std::string("\x16\x03\x01\x00\x04\x01\x00\x40\x00", 9)).find("16 KiB") !=
        std::string::npos);
  malformed(in_records(hello_message(sni_extension("a..test")), 1000));
  malformed(in_records(hello_message(sni_extension("a.test.")), 1000));
  malformed(in_records(hello_message(sni_extension(std::string("a\0b", 3))), 1000));
  malformed(in_records(hello_message(sni_extension("")), 1000));
  malformed(in_records(hello_message(sni_extension(std::string(254, 'a'))), 1000));
  malformed(in_records(hello_message(sni_extension("a.test") + sni_extension("b.test")), 1000));
  std::string bad_list = u16(0) + u16(4) + u16(7) + std::string("\x00\x00", 2);
  malformed(in_records(hello_message(bad_list), 1000));
  std::string two_hosts = std::string(1, '\0') + u16(1) + "a" + std::string(1, '\0') + u16(1) + "b";
  malformed(in_records(
      hello_message(u16(0) + u16(two_hosts.size() + 2) + u16(two_hosts.size()) + two_hosts), 1000));
  std::string truncated = hello_message(sni_extension("a.test"));
  truncated[3] = static_cast<char>(truncated[3] - 3); // message shorter than its extensions
  malformed(in_records(truncated.substr(0, truncated.size() - 3), 1000));
  std::string ext_past = hello_message(u16(5) + u16(100));
  malformed(in_records(ext_past, 1000));
  std::string odd_suites = kRealHello;
  odd_suites[5 + 4 + 2 + 32 + 1 + 32 + 1] ^= 1; // cipher suites length made odd
  malformed(odd_suites);
}

TEST_CASE("16 KiB without a complete hello is malformed, not a wait") {
  // A hello announcing 16 KiB - 100 bytes, sent in records of one byte: the bound is reached
  // (6 bytes a record) long before the message ends.
  std::string header("\x01\x00\x3f\x9c", 4);
  std::string records = in_records(header + std::string(5000, 'x'), 1);
  REQUIRE(records.size() > net::kClientHelloMaxBytes);
  CHECK(net::peek_client_hello(records.data(), net::kClientHelloMaxBytes - 1).status ==
        ClientHelloStatus::need_more);
  CHECK(net::peek_client_hello(records.data(), net::kClientHelloMaxBytes).status ==
        ClientHelloStatus::malformed);
  CHECK(peek(records).status == ClientHelloStatus::malformed);
}
