// Unit tests for engine/admission.h: the decision at accept, and the refusals' log bound.
#include "engine/admission.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

using namespace hamba;
using namespace hamba::engine;

namespace {

config::Frontend frontend(const std::string& yaml_extra) {
  config::Config c = config::load_yaml_text(
      "frontends:\n  - bind: \":80\"\n    servers: [a:1]\n" + yaml_extra, "test.yaml");
  return c.frontends.at(0);
}

struct Peer {
  explicit Peer(const char* text) {
    if (inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
      v4.sin_family = AF_INET;
      sa = reinterpret_cast<sockaddr*>(&v4);
    } else {
      REQUIRE(inet_pton(AF_INET6, text, &v6.sin6_addr) == 1);
      v6.sin6_family = AF_INET6;
      sa = reinterpret_cast<sockaddr*>(&v6);
    }
  }
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  sockaddr* sa = nullptr;
};

std::optional<Refusal> verdict(const config::Frontend& f, const char* peer) {
  return admit_at_accept(f, Peer(peer).sa).refusal;
}

} // namespace

TEST_CASE("admission: no lists, everyone; deny wins over allow; allow refuses the others") {
  CHECK(!verdict(frontend(""), "10.1.2.3"));
  auto f = frontend("    allow: [10.0.0.0/8, \"::1\"]\n    deny: [10.9.0.0/16]\n");
  CHECK(!verdict(f, "10.1.2.3"));
  CHECK(!verdict(f, "::ffff:10.1.2.3")); // a dual-stack socket's view of the same client
  CHECK(!verdict(f, "::1"));
  CHECK(verdict(f, "10.9.0.1") == Refusal::deny_list);
  CHECK(verdict(f, "11.0.0.1") == Refusal::not_allowed);
  CHECK(verdict(f, "::2") == Refusal::not_allowed);
  auto deny_only = frontend("    deny: [\"2001:db8::/32\"]\n");
  CHECK(verdict(deny_only, "2001:db8::1") == Refusal::deny_list);
  CHECK(!verdict(deny_only, "2001:db9::1"));
}

TEST_CASE("admission: accept_proxy from trusts its senders; others refused, or served as is") {
  auto any = frontend("    accept_proxy: true\n    deny: [127.0.0.9/32]\n");
  // Any sender's header is read; the lists wait for the address it carries.
  CHECK(admit_at_accept(any, Peer("127.0.0.9").sa).read_header);
  CHECK(!verdict(any, "127.0.0.9"));

  auto strict = frontend("    accept_proxy: {from: [127.0.0.2/32]}\n    deny: [127.0.0.9/32]\n");
  CHECK(admit_at_accept(strict, Peer("127.0.0.2").sa).read_header);
  CHECK(verdict(strict, "127.0.0.3") == Refusal::untrusted_proxy);

  auto optional = frontend("    accept_proxy: {from: [127.0.0.2/32], optional: true}\n"
                           "    deny: [127.0.0.9/32]\n");
  AcceptVerdict own = admit_at_accept(optional, Peer("127.0.0.3").sa);
  CHECK(!own.refusal);
  CHECK(!own.read_header);                                     // served with its own address
  CHECK(verdict(optional, "127.0.0.9") == Refusal::deny_list); // judged by its own address
}

TEST_CASE("admission: check_lists judges a carried address") {
  auto f = frontend("    allow: [192.168.0.0/16]\n");
  CHECK(!check_lists(f, config::parse_cidr_word("192.168.1.1").base));
  CHECK(check_lists(f, config::parse_cidr_word("10.0.0.1").base) == Refusal::not_allowed);
}

TEST_CASE("admission: one refusal line per source per 10 s, whatever the other sources do") {
  RefusalLog log;
  Address128 a = config::parse_cidr_word("10.0.0.1").base;
  Address128 b = config::parse_cidr_word("10.0.0.2").base;
  CHECK(log.due(a, 1000));
  CHECK(!log.due(a, 1001));
  CHECK(!log.due(a, 1000 + kRefusalLogMs - 1));
  CHECK(log.due(b, 2000) != false); // another source (its own slot here)
  CHECK(log.due(a, 1000 + kRefusalLogMs));
  CHECK(!log.due(a, 999 + kRefusalLogMs)); // another worker's clock a moment behind
}
