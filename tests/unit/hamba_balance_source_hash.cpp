// balance: source: the Maglev table's spread, stickiness, movement on change, and skipping.
#include "balance/source_hash.h"

#include <algorithm>
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <initializer_list>
#include <netinet/in.h>
#include <set>
#include <string>
#include <vector>

using namespace hamba::balance;

namespace {
std::vector<std::string> keys(size_t n, size_t first = 1) {
  std::vector<std::string> out;
  for (size_t i = first; i < first + n; ++i)
    out.push_back("10.1.0." + std::to_string(i) + ":80");
  return out;
}

sockaddr_in v4(uint32_t host_order) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(host_order);
  return a;
}

// 10 000 distinct client addresses across a few /16s.
std::vector<uint64_t> clients() {
  std::vector<uint64_t> out;
  for (uint32_t i = 0; i < 10'000; ++i) {
    sockaddr_in a = v4(0x0a000000u + i * 7919u + 1u);
    out.push_back(hash_client(reinterpret_cast<sockaddr*>(&a)));
  }
  return out;
}

// The key each client lands on.
std::vector<std::string> assign(const MaglevTable& t, const std::vector<std::string>& k,
                                const std::vector<uint64_t>& hashes) {
  std::vector<std::string> out;
  for (uint64_t h : hashes)
    out.push_back(k[t.lookup(h)]);
  return out;
}

double moved(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    n += a[i] != b[i];
  return static_cast<double>(n) / static_cast<double>(a.size());
}
} // namespace

TEST_CASE("client hash: by address only, IPv4-mapped IPv6 as IPv4, stable across runs") {
  sockaddr_in a = v4(0x7f000002), b = v4(0x7f000002);
  a.sin_port = htons(1000);
  b.sin_port = htons(2000);
  CHECK(hash_client(reinterpret_cast<sockaddr*>(&a)) ==
        hash_client(reinterpret_cast<sockaddr*>(&b)));
  sockaddr_in c = v4(0x7f000003);
  CHECK(hash_client(reinterpret_cast<sockaddr*>(&a)) !=
        hash_client(reinterpret_cast<sockaddr*>(&c)));

  sockaddr_in6 mapped{};
  mapped.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "::ffff:127.0.0.2", &mapped.sin6_addr) == 1);
  CHECK(hash_client(reinterpret_cast<sockaddr*>(&mapped)) ==
        hash_client(reinterpret_cast<sockaddr*>(&a)));
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "::1", &six.sin6_addr) == 1);
  CHECK(hash_client(reinterpret_cast<sockaddr*>(&six)) !=
        hash_client(reinterpret_cast<sockaddr*>(&a)));
  // A fixed value: the same client must land on the same server after a restart or an upgrade
  // (a change of hash function is a change users see).
  CHECK(hash_bytes("hamba") == hash_bytes("hamba"));
  CHECK(hash_bytes("hamba") != hash_bytes("hamba", 1));
  CHECK(hash_bytes("") == 0xf52a15e9a9b5e89bULL);
  CHECK(hash_bytes("10.0.0.1:80") == 0xdbbc907f21531a73ULL);
}

TEST_CASE("maglev: every slot is taken and shares are even (within 1 slot) for equal weights") {
  for (size_t n : {1, 2, 3, 7, 50}) {
    auto k = keys(n);
    MaglevTable t(k);
    CHECK(t.servers() == n);
    CHECK(t.slots() == MaglevTable::kSlots);
    auto shares = t.shares();
    size_t total = 0, lo = SIZE_MAX, hi = 0;
    for (size_t s : shares) {
      total += s;
      lo = std::min(lo, s);
      hi = std::max(hi, s);
    }
    CHECK(total == MaglevTable::kSlots);
    CHECK(hi - lo <= 1);
  }
  CHECK(MaglevTable().lookup(1) == kNoPick);
  CHECK(MaglevTable().pick(1, [](size_t) { return true; }) == kNoPick);
}

TEST_CASE("maglev: weights 3:1 give 3:1 of the slots and of 10 000 clients") {
  auto k = keys(2);
  std::vector<int> w{3, 1};
  MaglevTable t(k, w);
  auto shares = t.shares();
  CHECK(shares[0] == doctest::Approx(0.75 * MaglevTable::kSlots).epsilon(0.001));
  size_t first = 0;
  for (uint64_t h : clients())
    first += t.lookup(h) == 0;
  CHECK(static_cast<double>(first) / 10'000 == doctest::Approx(0.75).epsilon(0.03));
}

TEST_CASE("maglev: the same keys in another order give the same assignment") {
  auto k = keys(5);
  std::vector<std::string> reversed(k.rbegin(), k.rend());
  MaglevTable a(k), b(reversed);
  for (uint64_t h : clients())
    CHECK(k[a.lookup(h)] == reversed[b.lookup(h)]);
}

TEST_CASE("maglev: removing one of N servers moves about 1/N of 10 000 clients") {
  auto hashes = clients();
  for (size_t n : {3, 5, 10, 20}) {
    CAPTURE(n);
    auto all = keys(n);
    std::vector<std::string> fewer(all.begin() + 1, all.end());
    auto before = assign(MaglevTable(all), all, hashes);
    auto after = assign(MaglevTable(fewer), fewer, hashes);
    double f = moved(before, after);
    double ideal = 1.0 / static_cast<double>(n);
    CHECK(f >= ideal * 0.9); // the removed server's clients had to move...
    CHECK(f <= ideal * 1.2); // ...and few others did
    // Clients of the servers that stayed: at most a few percent moved.
    size_t stayed = 0, stayed_moved = 0;
    for (size_t i = 0; i < hashes.size(); ++i)
      if (before[i] != all[0]) {
        ++stayed;
        stayed_moved += before[i] != after[i];
      }
    CHECK(static_cast<double>(stayed_moved) / static_cast<double>(stayed) < 0.03);
  }
}

TEST_CASE("maglev: adding one server to N moves about 1/(N+1) of 10 000 clients, to it") {
  auto hashes = clients();
  for (size_t n : {2, 4, 9, 19}) {
    CAPTURE(n);
    auto k = keys(n);
    auto more = keys(n + 1);
    auto before = assign(MaglevTable(k), k, hashes);
    auto after = assign(MaglevTable(more), more, hashes);
    double f = moved(before, after);
    double ideal = 1.0 / static_cast<double>(n + 1);
    CHECK(f >= ideal * 0.85);
    CHECK(f <= ideal * 1.2);
    size_t to_new = 0;
    for (size_t i = 0; i < hashes.size(); ++i)
      to_new += before[i] != after[i] && after[i] == more.back();
    CHECK(static_cast<double>(to_new) >= 0.9 * f * 10'000); // most movers went to the new one
  }
}

TEST_CASE("maglev: a server that is down is skipped; no other client moves; its clients spread") {
  auto k = keys(4);
  MaglevTable t(k);
  auto hashes = clients();
  std::vector<bool> usable(4, true);
  auto pick = [&](uint64_t h) { return t.pick(h, [&](size_t s) { return bool(usable[s]); }); };
  std::vector<size_t> before;
  for (uint64_t h : hashes)
    before.push_back(pick(h));
  usable[2] = false; // down, or draining, or full
  std::vector<size_t> took(4, 0);
  for (size_t i = 0; i < hashes.size(); ++i) {
    size_t now = pick(hashes[i]);
    REQUIRE(now != kNoPick);
    CHECK(now != 2);
    if (before[i] != 2)
      CHECK(now == before[i]); // nobody else is reshuffled
    else
      ++took[now];
  }
  // Server 2's clients went to each of the other three, none to just one neighbour.
  size_t stranded = took[0] + took[1] + took[3];
  CHECK(stranded > 2000);
  for (size_t s : {0, 1, 3})
    CHECK(static_cast<double>(took[s]) > 0.2 * static_cast<double>(stranded));
  // Back up: everyone is where they were.
  usable[2] = true;
  for (size_t i = 0; i < hashes.size(); ++i)
    CHECK(pick(hashes[i]) == before[i]);
  // Nothing usable: no pick, after one walk of the table.
  CHECK(t.pick(hashes[0], [](size_t) { return false; }) == kNoPick);
}

TEST_CASE("maglev: the same client address always lands on the same server") {
  auto k = keys(3);
  MaglevTable t(k);
  std::set<size_t> seen;
  for (uint16_t port = 1000; port < 1100; ++port) {
    sockaddr_in a = v4(0x7f000002);
    a.sin_port = htons(port);
    seen.insert(t.lookup(hash_client(reinterpret_cast<sockaddr*>(&a))));
  }
  CHECK(seen.size() == 1);
}
