// A bare port listens on every address ([::] with IPv4 mapped in, or 0.0.0.0 without IPv6), and
// an IPv4 client of such a socket is shown as its IPv4 address.
#include "balance/server.h"
#include "net/listening_socket.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

using namespace hamba;

TEST_CASE("an IPv4-mapped IPv6 address is shown as IPv4") {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(8080);
  REQUIRE(inet_pton(AF_INET6, "::ffff:127.0.0.1", &a.sin6_addr) == 1);
  CHECK(format_sockaddr(reinterpret_cast<sockaddr*>(&a)) == "127.0.0.1:8080");
  REQUIRE(inet_pton(AF_INET6, "::1", &a.sin6_addr) == 1);
  CHECK(format_sockaddr(reinterpret_cast<sockaddr*>(&a)) == "[::1]:8080");
}

TEST_CASE("a listener without a host binds every address and says which") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    net::ListeningSocket any(&loop, config::Endpoint{"", 0});
    CHECK(any.bind().host.empty());
    CHECK((any.bound().host == "::" || any.bound().host == "0.0.0.0"));
    net::ListeningSocket one(&loop, config::Endpoint{"127.0.0.1", 0});
    CHECK(one.bound().host == "127.0.0.1");
  }
  uv_run(&loop, UV_RUN_DEFAULT); // runs the close callbacks
  CHECK(uv_loop_close(&loop) == 0);
}
