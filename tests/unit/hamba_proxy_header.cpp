// PROXY protocol headers: what hamba writes is what the specification shows, and the parser
// takes v1 and v2 whole or a byte at a time, and refuses what is missing, malformed or too long.
#include "net/proxy_header.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <string>

using namespace hamba;
using net::ProxyHeaderStatus;
using net::ProxyVersion;

namespace {

sockaddr_storage v4(const char* ip, uint16_t port) {
  sockaddr_storage s{};
  auto* in = reinterpret_cast<sockaddr_in*>(&s);
  in->sin_family = AF_INET;
  in->sin_port = htons(port);
  REQUIRE(inet_pton(AF_INET, ip, &in->sin_addr) == 1);
  return s;
}

sockaddr_storage v6(const char* ip, uint16_t port) {
  sockaddr_storage s{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  REQUIRE(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1);
  return s;
}

const sockaddr* sa(const sockaddr_storage& s) {
  return reinterpret_cast<const sockaddr*>(&s);
}

std::string built(ProxyVersion v, const sockaddr_storage* c, const sockaddr_storage* d) {
  auto h = net::build_proxy_header(v, c ? sa(*c) : nullptr, d ? sa(*d) : nullptr);
  return std::string(h.data, h.size);
}

std::string shown(const sockaddr_storage& s) {
  char text[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  if (s.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&s);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (s.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&s);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  return std::string(text) + " " + std::to_string(port);
}

net::ProxyHeaderResult parse(const std::string& s) {
  return net::parse_proxy_header(s.data(), s.size());
}

const std::string kSig("\r\n\r\n\0\r\nQUIT\n", 12);

} // namespace

TEST_CASE("v1 headers for IPv4, IPv6, v4-mapped and unknown addresses") {
  auto c4 = v4("127.0.0.2", 40000), d4 = v4("127.0.0.1", 8443);
  CHECK(built(ProxyVersion::v1, &c4, &d4) == "PROXY TCP4 127.0.0.2 127.0.0.1 40000 8443\r\n");
  auto c6 = v6("2001:db8::1", 1), d6 = v6("::1", 65535);
  CHECK(built(ProxyVersion::v1, &c6, &d6) == "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n");
  auto m1 = v6("::ffff:10.0.0.1", 5), m2 = v6("::ffff:10.0.0.2", 80);
  CHECK(built(ProxyVersion::v1, &m1, &m2) == "PROXY TCP4 10.0.0.1 10.0.0.2 5 80\r\n");
  // One real IPv6 side: both written as IPv6, the IPv4 one mapped.
  CHECK(built(ProxyVersion::v1, &c4, &d6) == "PROXY TCP6 ::ffff:127.0.0.2 ::1 40000 65535\r\n");
  CHECK(built(ProxyVersion::v1, nullptr, &d4) == "PROXY UNKNOWN\r\n");
  sockaddr_storage unix_socket{};
  unix_socket.ss_family = AF_UNIX;
  CHECK(built(ProxyVersion::v1, &unix_socket, &d4) == "PROXY UNKNOWN\r\n");
  auto longest = v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
  CHECK(built(ProxyVersion::v1, &longest, &longest).size() == 104);
}

TEST_CASE("v2 headers for IPv4, IPv6, v4-mapped and unknown addresses") {
  auto c4 = v4("127.0.0.2", 0x1234), d4 = v4("127.0.0.1", 0x0050);
  CHECK(built(ProxyVersion::v2, &c4, &d4) ==
        kSig + std::string("\x21\x11\x00\x0c\x7f\x00\x00\x02\x7f\x00\x00\x01\x12\x34\x00\x50", 16));
  auto m1 = v6("::ffff:127.0.0.2", 0x1234), m2 = v6("::ffff:127.0.0.1", 0x0050);
  CHECK(built(ProxyVersion::v2, &m1, &m2) == built(ProxyVersion::v2, &c4, &d4));
  auto c6 = v6("::1", 1), d6 = v6("::2", 2);
  std::string h6 = built(ProxyVersion::v2, &c6, &d6);
  REQUIRE(h6.size() == 52);
  CHECK(h6.substr(12, 4) == std::string("\x21\x21\x00\x24", 4));
  CHECK(h6[16 + 15] == 1);
  CHECK(h6[32 + 15] == 2);
  CHECK(h6.substr(48) == std::string("\x00\x01\x00\x02", 4));
  CHECK(built(ProxyVersion::v2, nullptr, nullptr) == kSig + std::string("\x20\x00\x00\x00", 4));
}

TEST_CASE("what hamba builds, it parses back, whole and a byte at a time") {
  auto c4 = v4("127.0.0.2", 40000), d4 = v4("127.0.0.1", 8443);
  auto c6 = v6("2001:db8::7", 1234), d6 = v6("::1", 443);
  for (auto version : {ProxyVersion::v1, ProxyVersion::v2}) {
    for (auto [c, d] : {std::pair{&c4, &d4}, std::pair{&c6, &d6}}) {
      std::string h = built(version, c, d) + "GET / HTTP/1.0\r\n";
      const size_t header = built(version, c, d).size();
      for (size_t n = 0; n < header; ++n)
        REQUIRE(net::parse_proxy_header(h.data(), n).status == ProxyHeaderStatus::need_more);
      auto r = parse(h);
      REQUIRE(r.status == ProxyHeaderStatus::done);
      CHECK(r.version == version);
      CHECK(r.consumed == header);
      CHECK_FALSE(r.local);
      CHECK(shown(r.source) == shown(*c));
      CHECK(shown(r.destination) == shown(*d));
    }
  }
}

TEST_CASE("v1 UNKNOWN and v2 LOCAL keep the connection's own addresses") {
  auto r = parse("PROXY UNKNOWN\r\n");
  CHECK(r.status == ProxyHeaderStatus::done);
  CHECK(r.local);
  CHECK(r.consumed == 15);
  r = parse("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nrest");
  CHECK(r.status == ProxyHeaderStatus::done);
  CHECK(r.local);
  CHECK(r.consumed == 35);
  // LOCAL with an address block and a TLV: all skipped.
  r = parse(kSig + std::string("\x20\x11\x00\x0f", 4) + std::string(12, 'x') +
            std::string("\x04\x00\x00", 3) + "data");
  CHECK(r.status == ProxyHeaderStatus::done);
  CHECK(r.local);
  CHECK(r.consumed == 31);
  // PROXY over UNSPEC or UNIX carries nothing hamba can use.
  r = parse(kSig + std::string("\x21\x00\x00\x00", 4));
  CHECK((r.status == ProxyHeaderStatus::done && r.local));
  r = parse(kSig + std::string("\x21\x31\x00\xd8", 4) + std::string(216, '/'));
  CHECK((r.status == ProxyHeaderStatus::done && r.local));
}

TEST_CASE("v2 TLVs after the addresses are skipped") {
  std::string h =
      kSig + std::string("\x21\x11\x00\x14\x0a\x00\x00\x01\x0a\x00\x00\x02\x00\x50\x01\xbb", 16) +
      std::string("\x02\x00\x05"
                  "a.tes",
                  8);
  auto r = parse(h + "payload");
  REQUIRE(r.status == ProxyHeaderStatus::done);
  CHECK(r.consumed == 36);
  CHECK(shown(r.source) == "10.0.0.1 80");
  CHECK(shown(r.destination) == "10.0.0.2 443");
}

TEST_CASE("missing, malformed and oversized headers are errors, as early as possible") {
  auto error = [](const std::string& s) {
    auto r = parse(s);
    INFO(s);
    CHECK(r.status == ProxyHeaderStatus::error);
    CHECK(std::string(r.reason).size() > 0);
    return std::string(r.reason);
  };
  CHECK(error("GET / HTTP/1.1\r\n").find("no PROXY header") != std::string::npos);
  error("\x16\x03\x01");
  error("PROXX ");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rx");
  error("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
  error("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
  error("PROXY TCP4 ::1 ::2 1 2\r\n");
  error("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n");
  error("PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n");
  error(std::string("PROXY TCP4 1.2.3.4\0", 19));
  CHECK(error("PROXY UNKNOWN " + std::string(93, 'a')).find("107") != std::string::npos);
  CHECK(parse("PROXY UNKNOWN " + std::string(91, 'a') + "\r\n").status == ProxyHeaderStatus::done);
  CHECK(parse("PROXY UNKNOWN " + std::string(92, 'a')).status == ProxyHeaderStatus::need_more);
  error(kSig + std::string("\x11\x11\x00\x0c", 4));                         // version 1 in v2 form
  error(kSig + std::string("\x11", 1));                                     // ... seen at once
  error(kSig + std::string("\x22\x11\x00\x0c", 4));                         // command 2
  error(kSig + std::string("\x21\x41\x00\x0c", 4));                         // family 4
  error(kSig + std::string("\x21\x13\x00\x0c", 4));                         // transport 3
  error(kSig + std::string("\x21\x12\x00\x0c", 4) + std::string(12, '\0')); // UDP
  error(kSig + std::string("\x21\x11\x00\x08", 4) + std::string(8, '\0'));  // short IPv4 block
  error(kSig + std::string("\x21\x21\x00\x0c", 4) + std::string(12, '\0')); // short IPv6 block
  CHECK(error(kSig + std::string("\x21\x11\x02\x01", 4)).find("528") != std::string::npos);
  CHECK(parse(kSig + std::string("\x21\x11\x02\x00", 4) + std::string(511, '\0')).status ==
        ProxyHeaderStatus::need_more);
  CHECK(parse(kSig + std::string("\x21\x11\x02\x00", 4) + std::string(512, '\0')).status ==
        ProxyHeaderStatus::done);
  error(kSig.substr(0, 5) + "x");
}

TEST_CASE("v2 header with TLS facts: AUTHORITY and SSL TLVs, the length updated, still parsed") {
  sockaddr_in c{}, d{};
  c.sin_family = d.sin_family = AF_INET;
  c.sin_port = htons(40000);
  d.sin_port = htons(443);
  inet_pton(AF_INET, "10.0.0.1", &c.sin_addr);
  inet_pton(AF_INET, "10.0.0.2", &d.sin_addr);
  net::ProxyHeaderBytes h = net::build_proxy_header(
      ProxyVersion::v2, reinterpret_cast<sockaddr*>(&c), reinterpret_cast<sockaddr*>(&d));
  std::string out =
      net::with_tls_tlvs(h, {"a.test", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "client"});
  REQUIRE(out.size() > h.size);
  CHECK(static_cast<size_t>((static_cast<unsigned char>(out[14]) << 8) |
                            static_cast<unsigned char>(out[15])) == out.size() - 16);
  // After the addresses: AUTHORITY, then SSL with client flags 0x07, verify 0 and its subtypes.
  std::string tlvs = out.substr(h.size);
  CHECK(tlvs.substr(0, 9) == std::string("\x02\x00\x06"
                                         "a.test",
                                         9));
  CHECK(tlvs[9] == '\x20');
  std::string ssl = tlvs.substr(12);
  CHECK(ssl[0] == '\x07');
  CHECK(ssl.substr(1, 4) == std::string(4, '\0'));
  CHECK(ssl.substr(5, 10) == std::string("\x21\x00\x07"
                                         "TLSv1.3",
                                         10));
  CHECK(ssl.substr(15, 9) == std::string("\x22\x00\x06"
                                         "client",
                                         9));
  net::ProxyHeaderResult r = net::parse_proxy_header(out.data(), out.size());
  CHECK(r.status == ProxyHeaderStatus::done);
  CHECK(r.consumed == out.size());
  // No client certificate: flags 0x01 and no CN; v1 headers are left alone.
  std::string plain = net::with_tls_tlvs(h, {"", "TLSv1.2", "ECDHE", ""});
  CHECK(plain[h.size] == '\x20');
  CHECK(plain[h.size + 3] == '\x01');
  net::ProxyHeaderBytes v1 = net::build_proxy_header(
      ProxyVersion::v1, reinterpret_cast<sockaddr*>(&c), reinterpret_cast<sockaddr*>(&d));
  CHECK(net::with_tls_tlvs(v1, {"a.test", "TLSv1.3", "x", ""}) == std::string(v1.data, v1.size));
}
