// Measures the two consistent hashes `balance: source` could use, to choose by numbers:
// Maglev's table (balance/source_hash.h, what hamba uses) and a hash ring with virtual nodes
// (Karger et al.; ketama's 160 points per server), both with the same address hash.
//
//     cmake --build build --target bench_source_hash && build/bin/bench_source_hash
//
// For 3, 10 and 100 servers it prints: the lookup cost (ns per pick of a client, the work added
// to each new connection), the build cost (once per change of servers), the spread (most
// loaded server / mean), and the fraction of 10 000 client addresses that move when one server
// is removed or added (1/N is the least any scheme can move). A benchmark: nothing fails.
#include "balance/source_hash.h"

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <netinet/in.h>
#include <string>
#include <vector>

using namespace hamba::balance;
using Clock = std::chrono::steady_clock;

namespace {

// The ring: `points` hashes per server, sorted; a client goes to the first point at or after
// its hash (wrapping). Skipping a server that is down walks on to the next point.
class Ring {
public:
  Ring(const std::vector<std::string>& keys, int points) {
    for (size_t s = 0; s < keys.size(); ++s)
      for (int p = 0; p < points; ++p)
        ring_.push_back({hash_bytes(keys[s] + "#" + std::to_string(p)), static_cast<uint32_t>(s)});
    std::sort(ring_.begin(), ring_.end(),
              [](const Point& a, const Point& b) { return a.hash < b.hash; });
  }
  size_t lookup(uint64_t h) const {
    auto it = std::lower_bound(ring_.begin(), ring_.end(), h,
                               [](const Point& p, uint64_t v) { return p.hash < v; });
    return it == ring_.end() ? ring_.front().server : it->server;
  }

private:
  struct Point {
    uint64_t hash;
    uint32_t server;
  };
  std::vector<Point> ring_;
};

std::vector<std::string> server_keys(size_t n, size_t first = 1) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i)
    keys.push_back("10.1." + std::to_string((first + i) / 250) + "." +
                   std::to_string((first + i) % 250 + 1) + ":80");
  return keys;
}

std::vector<uint64_t> client_hashes(size_t n) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i < n; ++i) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x0a000000u + static_cast<uint32_t>(i) * 7919u + 1u);
    out.push_back(hash_client(reinterpret_cast<sockaddr*>(&a)));
  }
  return out;
}

// Fraction of clients whose server (by key) differs between two assignments.
template <typename A, typename B>
double moved(const std::vector<uint64_t>& clients, const A& before,
             const std::vector<std::string>& before_keys, const B& after,
             const std::vector<std::string>& after_keys) {
  size_t n = 0;
  for (uint64_t h : clients)
    n += before_keys[before.lookup(h)] != after_keys[after.lookup(h)];
  return static_cast<double>(n) / static_cast<double>(clients.size());
}

template <typename T> double spread(const std::vector<uint64_t>& clients, const T& t, size_t n) {
  std::vector<size_t> count(n);
  for (uint64_t h : clients)
    ++count[t.lookup(h)];
  double mean = static_cast<double>(clients.size()) / static_cast<double>(n);
  return static_cast<double>(*std::max_element(count.begin(), count.end())) / mean;
}

template <typename T> double lookup_ns(const std::vector<uint64_t>& clients, const T& t) {
  constexpr int kRounds = 200;
  size_t sink = 0;
  auto start = Clock::now();
  for (int r = 0; r < kRounds; ++r)
    for (uint64_t h : clients)
      sink += t.lookup(h + static_cast<uint64_t>(r));
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  if (sink == 42) // keeps the loop from being optimised away
    std::puts("");
  return ns / (kRounds * static_cast<double>(clients.size()));
}

template <typename Build> double build_us(Build&& build) {
  constexpr int kRounds = 20;
  auto start = Clock::now();
  for (int r = 0; r < kRounds; ++r)
    build();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / kRounds;
}

// The address hash alone, as a new connection pays it.
double hash_ns() {
  constexpr int kRounds = 2'000'000;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  uint64_t sink = 0;
  auto start = Clock::now();
  for (int r = 0; r < kRounds; ++r) {
    a.sin_addr.s_addr = static_cast<uint32_t>(r);
    sink += hash_client(reinterpret_cast<sockaddr*>(&a));
  }
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  if (sink == 42)
    std::puts("");
  return ns / kRounds;
}

} // namespace

int main() {
  const auto clients = client_hashes(10'000);
  std::printf("address hash: %.1f ns\n\n", hash_ns());
  std::printf("%-7s %4s %9s %9s %7s %9s %9s %6s\n", "scheme", "N", "lookup", "build", "spread",
              "remove1", "add1", "1/N");
  for (size_t n : {3, 10, 100}) {
    auto keys = server_keys(n);
    auto fewer = std::vector<std::string>(keys.begin() + 1, keys.end()); // first one removed
    auto more = keys;
    more.push_back(server_keys(1, n + 1)[0]);

    MaglevTable m(keys), m_fewer(fewer), m_more(more);
    std::printf("%-7s %4zu %6.1f ns %6.0f us %7.2f %8.1f%% %8.1f%% %5.1f%%\n", "maglev", n,
                lookup_ns(clients, m), build_us([&] { MaglevTable t(keys); }),
                spread(clients, m, n), 100 * moved(clients, m, keys, m_fewer, fewer),
                100 * moved(clients, m, keys, m_more, more), 100.0 / static_cast<double>(n));

    for (int points : {40, 160}) {
      Ring r(keys, points), r_fewer(fewer, points), r_more(more, points);
      char name[16];
      std::snprintf(name, sizeof name, "ring%d", points);
      std::printf("%-7s %4zu %6.1f ns %6.0f us %7.2f %8.1f%% %8.1f%% %5.1f%%\n", name, n,
                  lookup_ns(clients, r), build_us([&] { Ring t(keys, points); }),
                  spread(clients, r, n), 100 * moved(clients, r, keys, r_fewer, fewer),
                  100 * moved(clients, r, keys, r_more, more), 100.0 / static_cast<double>(n));
    }
  }
  return 0;
}
