// The DockerCoins worker's loop, on libuv: forever wait --delay-ms, GET rng /32, POST the bytes
// to hasher, and a hash starting with '0' is a coin for the Redis hash `wallet`; about once a
// second the units of work done are added to the Redis counter `hashes`.
//
// Unlike the original it survives outages and loses nothing: when rng or hasher fail it logs,
// waits --retry-wait and goes on; units and coins are kept until Redis has acknowledged them
// (it keeps mining while Redis is away, retrying Redis every --retry-wait), and stop() sends
// what is still unsent before the process exits.
#pragma once

#include "base/endpoint.h"
#include "base/http_client.h"
#include "base/uv_handle.h"
#include "common/redis_client.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <uv.h>

namespace worker {

struct MinerOptions {
  hamba::Endpoint rng{"rng", 80};
  hamba::Endpoint hasher{"hasher", 80};
  hamba::Endpoint redis{"redis", 6379};
  std::uint64_t delay_ms = 100;        // pause before each unit of work
  std::uint64_t retry_wait_ms = 10000; // after a failure of rng, hasher or Redis
  std::uint64_t update_every_ms = 1000;
  std::size_t max_pending_coins = 100000; // coins kept while Redis is away
};

class Miner {
public:
  Miner(uv_loop_t* loop, MinerOptions options);
  Miner(const Miner&) = delete;
  Miner& operator=(const Miner&) = delete;

  void start();
  // Stops mining, sends the units and coins Redis has not acknowledged yet (bounded by
  // `flush_ms`), then closes everything and calls `done`.
  void stop(std::uint64_t flush_ms, std::function<void()> done);

private:
  struct Coin {
    std::string hash;
    std::string bytes;
  };

  void schedule_work(std::uint64_t ms);
  void work_once();
  void on_random_bytes(http::ClientResult result);
  void on_hash(const std::string& bytes, http::ClientResult result);
  void unit_done();
  void work_failed(const std::string& error);

  void update_counter(); // every update_every_ms
  void flush_to_redis();
  void redis_failed(const std::string& what, const std::string& error);
  void maybe_stopped();
  void flush_deadline_passed(); // stop() waited long enough for Redis

  uv_loop_t* loop_;
  MinerOptions options_;
  http::HttpClient rng_;
  http::HttpClient hasher_;
  services::RedisClient redis_;
  uvx::Timer work_timer_;
  uvx::Timer update_timer_;
  uvx::Timer flush_deadline_;

  std::uint64_t units_done_ = 0;   // since the last "units of work done" line
  std::uint64_t units_unsent_ = 0; // done, not yet acknowledged by Redis nor in flight
  std::uint64_t units_in_flight_ = 0;
  std::deque<Coin> coins_unsent_;
  std::size_t coins_in_flight_ = 0;
  std::uint64_t redis_retry_at_ = 0; // uv_now() before which Redis is left alone
  bool first_update_ = true;
  bool stopping_ = false;
  std::function<void()> done_;
};

} // namespace worker
