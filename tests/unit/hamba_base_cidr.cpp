// Unit tests for base/cidr.h: parsing and printing CIDRs, list files, and the set's lookup.
#include "base/cidr.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <random>
#include <string>

using namespace hamba;

namespace {

Cidr cidr(const std::string& text) {
  std::optional<Cidr> c = parse_cidr(text);
  REQUIRE_MESSAGE(c, text);
  return *c;
}

Address128 addr(const std::string& text) {
  std::optional<Cidr> c = parse_cidr(text);
  REQUIRE_MESSAGE(c, text);
  return c->base;
}

std::string why(const std::string& text) {
  std::string reason;
  CHECK_MESSAGE(!parse_cidr(text, &reason), text);
  return reason;
}

} // namespace

TEST_CASE("cidr: IPv4, IPv6 and v4-mapped forms parse and print back") {
  CHECK(format_cidr(cidr("10.0.0.0/8")) == "10.0.0.0/8");
  CHECK(format_cidr(cidr("10.1.2.3")) == "10.1.2.3/32");
  CHECK(format_cidr(cidr("0.0.0.0/0")) == "0.0.0.0/0");
  CHECK(format_cidr(cidr("2001:db8::/32")) == "2001:db8::/32");
  CHECK(format_cidr(cidr("::1")) == "::1/128");
  CHECK(format_cidr(cidr("::/0")) == "::/0");
  // v4-mapped IPv6 is the IPv4 range, printed as such.
  CHECK(cidr("::ffff:10.0.0.0/104") == cidr("10.0.0.0/8"));
  CHECK(format_cidr(cidr("::ffff:10.0.0.0/104")) == "10.0.0.0/8");
  CHECK(format_cidr(cidr("::ffff:0.0.0.0/96")) == "0.0.0.0/0");
  // A range wider than the v4-mapped block stays IPv6.
  CHECK(format_cidr(cidr("::/80")) == "::/80");
  CHECK(why("::ffff:0.0.0.0/95").find("write ::fffe:0:0/95") != std::string::npos);
}

TEST_CASE("cidr: bad words say what is wrong") {
  CHECK(why("10.0.0.0/33").find("0 to 32") != std::string::npos);
  CHECK(why("2001:db8::/129").find("0 to 128") != std::string::npos);
  CHECK(why("10.1.2.3/8").find("write 10.0.0.0/8") != std::string::npos);
  CHECK(why("10.0.0/8").find("'10.0.0/8'") != std::string::npos);
  CHECK(why("example.com").find("not an address") != std::string::npos);
  CHECK(why("").find("not an address") != std::string::npos);
  CHECK(why("10.0.0.0/").find("prefix length") != std::string::npos);
  CHECK(why("10.0.0.0/8x").find("prefix length") != std::string::npos);
  CHECK(why("10.0.0.0/-1").find("prefix length") != std::string::npos);
  CHECK(why(" 10.0.0.0/8").find("not an address") != std::string::npos);
}

TEST_CASE("cidr: a list file's comments and blanks, and its errors' line and column") {
  auto list = parse_cidr_list("# office\n10.0.0.0/8\n\n  192.168.1.0/24  # lab\r\n2001:db8::/32");
  REQUIRE(list.size() == 3);
  CHECK(list[1] == cidr("192.168.1.0/24"));
  CHECK(parse_cidr_list("").empty());
  CHECK(parse_cidr_list("# nothing\n\n").empty());
  try {
    parse_cidr_list("10.0.0.0/8\n\n   10.0.0.300\n");
    FAIL("no error");
  } catch (const CidrListError& e) {
    CHECK(e.line == 3);
    CHECK(e.column == 4);
    CHECK(std::string(e.what()).find("'10.0.0.300'") != std::string::npos);
  }
  try {
    parse_cidr_list("10.0.0.0/8 10.1.0.0/16\n");
    FAIL("no error");
  } catch (const CidrListError& e) {
    CHECK(e.line == 1);
    CHECK(std::string(e.what()).find("one CIDR a line") != std::string::npos);
  }
  CHECK_THROWS_AS(parse_cidr_list(std::string(kMaxLineBytes + 1, ' ')), CidrListError);
}

TEST_CASE("cidr set: membership at the edges, merging, and sockaddrs of both families") {
  CidrSet set(std::vector<Cidr>{cidr("10.0.0.0/8"), cidr("10.1.0.0/16"), cidr("11.0.0.0/8"),
                                cidr("192.168.1.0/24"), cidr("2001:db8::/32")});
  CHECK(set.ranges() == 3); // 10/8 holds 10.1/16; 10/8 and 11/8 touch
  CHECK(set.contains(addr("10.0.0.0")));
  CHECK(set.contains(addr("11.255.255.255")));
  CHECK(!set.contains(addr("9.255.255.255")));
  CHECK(!set.contains(addr("12.0.0.0")));
  CHECK(set.contains(addr("192.168.1.255")));
  CHECK(!set.contains(addr("192.168.2.0")));
  CHECK(set.contains(addr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  CHECK(!set.contains(addr("2001:db9::")));
  CHECK(!set.contains(addr("::")));

  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "10.9.8.7", &v4.sin_addr);
  CHECK(set.contains(reinterpret_cast<sockaddr*>(&v4)));
  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:10.9.8.7", &mapped.sin6_addr);
  CHECK(set.contains(reinterpret_cast<sockaddr*>(&mapped)));
  inet_pton(AF_INET6, "2001:db8::5", &mapped.sin6_addr);
  CHECK(set.contains(reinterpret_cast<sockaddr*>(&mapped)));
  sockaddr none{};
  none.sa_family = AF_UNIX;
  CHECK(!set.contains(&none));

  CidrSet all(std::vector<Cidr>{cidr("::/0"), cidr("0.0.0.0/0")});
  CHECK(all.ranges() == 1);
  CHECK(all.contains(addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
  CHECK(CidrSet().empty());
  CHECK(!CidrSet().contains(addr("10.0.0.1")));
}

TEST_CASE("cidr set: agrees with a linear scan over random CIDRs") {
  std::mt19937_64 rng(7);
  std::vector<Cidr> cidrs;
  for (int i = 0; i < 2000; ++i) {
    Cidr c;
    unsigned bits = 96 + static_cast<unsigned>(rng() % 33); // IPv4 /0-/32
    c.base = Address128{0, 0xffff00000000ULL | (rng() & 0xffffffff)}.prefix(bits);
    c.bits = static_cast<uint8_t>(bits);
    cidrs.push_back(c);
  }
  CidrSet set(cidrs);
  CHECK(set.ranges() <= cidrs.size());
  for (int i = 0; i < 20000; ++i) {
    Address128 a{0, 0xffff00000000ULL | (rng() & 0xffffffff)};
    bool linear = false;
    for (const Cidr& c : cidrs)
      linear |= c.first() <= a && a <= c.last();
    REQUIRE(set.contains(a) == linear);
  }
}
