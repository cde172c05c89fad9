// The preread over bytes: a PROXY header then a ClientHello, in one segment or byte by byte,
// and a full buffer is a verdict, never "read more".
#include "net/preread.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <string>

using namespace hamba::net;

namespace {
const std::string kV1 = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\n";

// A minimal ClientHello for server name `name` (TLS 1.2 record, one extension).
std::string hello(const std::string& name) {
  auto u16 = [](size_t v) { return std::string{static_cast<char>(v >> 8), static_cast<char>(v)}; };
  std::string sni_list = std::string(1, '\0') + u16(name.size()) + name;
  std::string ext = u16(0) + u16(sni_list.size() + 2) + u16(sni_list.size()) + sni_list;
  std::string body = std::string("\x03\x03", 2) + std::string(32, 'r') + std::string(1, '\0') +
                     u16(2) + std::string("\x13\x01", 2) + std::string("\x01\x00", 2) +
                     u16(ext.size()) + ext;
  std::string hs = std::string(1, '\x01') + std::string(1, '\0') + u16(body.size()) + body;
  return std::string("\x16\x03\x01", 3) + u16(hs.size()) + hs;
}
} // namespace

TEST_CASE("a PROXY header and the request behind it, in one segment") {
  const std::string bytes = kV1 + std::string(2000, 'x');
  char buf[kPrereadMax];
  bytes.copy(buf, sizeof buf);
  const size_t size = std::min(bytes.size(), preread_capacity({true, false}));
  PrereadResult r = examine_preread(buf, size, preread_capacity({true, false}), {true, false});
  REQUIRE(r.verdict == PrereadVerdict::done);
  CHECK(r.consumed == kV1.size());
  CHECK(r.carried);
  const auto* src = reinterpret_cast<const sockaddr_in*>(&r.source);
  CHECK(ntohs(src->sin_port) == 40000);
}

TEST_CASE("a header arriving byte by byte asks for more until it is whole") {
  const size_t cap = preread_capacity({true, false});
  for (size_t n = 1; n < kV1.size(); ++n)
    CHECK(examine_preread(kV1.data(), n, cap, {true, false}).verdict == PrereadVerdict::need_more);
  CHECK(examine_preread(kV1.data(), kV1.size(), cap, {true, false}).verdict ==
        PrereadVerdict::done);
}

TEST_CASE("header then hello: the route's name, and the header's length even while the hello is "
          "not whole") {
  const std::string bytes = kV1 + hello("api.example");
  const PrereadSteps both{true, true};
  PrereadResult partial =
      examine_preread(bytes.data(), kV1.size() + 10, preread_capacity(both), both);
  CHECK(partial.verdict == PrereadVerdict::need_more);
  CHECK(partial.consumed == kV1.size());
  PrereadResult r = examine_preread(bytes.data(), bytes.size(), preread_capacity(both), both);
  REQUIRE(r.verdict == PrereadVerdict::done);
  CHECK(r.server_name() == "api.example");
}

TEST_CASE("a full buffer with the hello still incomplete is a verdict") {
  const std::string h = hello("a.test");
  // The record says it is longer than what fits: a buffer cut short is full, not "read more".
  PrereadResult r = examine_preread(h.data(), 20, 20, {false, true});
  CHECK(r.verdict == PrereadVerdict::bad_client_hello);
  PrereadResult plain = examine_preread("GET / HTTP/1.1\r\n", 16, 100, {false, true});
  CHECK(plain.verdict == PrereadVerdict::bad_client_hello);
  PrereadResult bad = examine_preread("HELLO\r\n", 7, 100, {true, false});
  CHECK(bad.verdict == PrereadVerdict::bad_proxy_header);
}
