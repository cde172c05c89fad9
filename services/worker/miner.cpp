// Miner: the worker's unit-of-work loop and its bookkeeping towards Redis (see miner.h).
#include "worker/miner.h"

#include "common/log.h"

#include <fmt/format.h>

namespace worker {

using services::log::debug;
using services::log::error;
using services::log::info;

Miner::Miner(uv_loop_t* loop, MinerOptions options)
    : loop_(loop), options_(std::move(options)), rng_(loop, options_.rng),
      hasher_(loop, options_.hasher), redis_(loop, options_.redis) {
  for (auto* timer : {&work_timer_, &update_timer_, &flush_deadline_})
    timer->init(loop_, this);
}

void Miner::start() {
  info("mining with rng {}, hasher {}, redis {}", hamba::format_endpoint(options_.rng),
       hamba::format_endpoint(options_.hasher), hamba::format_endpoint(options_.redis));
  update_counter(); // like the original, the first update (of 0 units) happens at once
  update_timer_.start<&Miner::update_counter>(options_.update_every_ms, options_.update_every_ms);
  schedule_work(options_.delay_ms);
}

void Miner::schedule_work(std::uint64_t ms) {
  work_timer_.start<&Miner::work_once>(ms);
}

void Miner::work_once() {
  debug("Doing one unit of work");
  rng_.request("GET", "/32", {}, {},
               [this](http::ClientResult r) { on_random_bytes(std::move(r)); });
}

void Miner::on_random_bytes(http::ClientResult result) {
  if (!result.ok())
    return work_failed(result.error);
  if (result.status != 200)
    return work_failed(
        fmt::format("rng {} answered {}", hamba::format_endpoint(options_.rng), result.status));
  std::string bytes = std::move(result.body);
  hasher_.request("POST", "/", bytes, {{"Content-Type", "application/octet-stream"}},
                  [this, bytes](http::ClientResult r) { on_hash(bytes, std::move(r)); });
}

void Miner::on_hash(const std::string& bytes, http::ClientResult result) {
  if (!result.ok())
    return work_failed(result.error);
  if (result.status != 200 || result.body.size() != 64)
    return work_failed(fmt::format("hasher {} answered {} ({} bytes)",
                                   hamba::format_endpoint(options_.hasher), result.status,
                                   result.body.size()));
  const std::string& hash = result.body;
  if (hash.front() != '0') {
    debug("No coin found");
  } else {
    info("Coin found: {}...", hash.substr(0, 8));
    if (coins_unsent_.size() < options_.max_pending_coins)
      coins_unsent_.push_back({hash, bytes});
    else
      error("{} coins waiting for Redis already: coin {}... not kept", coins_unsent_.size(),
            hash.substr(0, 8));
    flush_to_redis();
  }
  unit_done();
}

void Miner::unit_done() {
  ++units_done_;
  schedule_work(options_.delay_ms);
}

void Miner::work_failed(const std::string& what) {
  error("In work loop: {}", what);
  error("Waiting {}s and restarting.", fmt::format("{:g}", options_.retry_wait_ms / 1000.0));
  schedule_work(options_.retry_wait_ms);
}

void Miner::update_counter() {
  if (units_done_ > 0 || std::exchange(first_update_, false))
    info("{} units of work done, updating hash counter", units_done_);
  units_unsent_ += units_done_;
  units_done_ = 0;
  flush_to_redis();
}

void Miner::flush_to_redis() {
  if (uv_now(loop_) < redis_retry_at_) {
    debug("Redis left alone until the retry wait is over ({} units, {} coins waiting)",
          units_unsent_, coins_unsent_.size());
    return;
  }
  if (units_in_flight_ == 0 && units_unsent_ > 0) {
    const std::uint64_t n = std::exchange(units_unsent_, 0);
    units_in_flight_ = n;
    redis_.command({"INCRBY", "hashes", std::to_string(n)}, [this, n](services::RedisReply r) {
      units_in_flight_ = 0;
      if (!r.ok()) {
        units_unsent_ += n;
        redis_failed(fmt::format("update the hash counter by {}", units_unsent_), r.error);
      } else if (n > 0) {
        debug("hash counter is now {}", r.integer);
      }
      maybe_stopped();
    });
  }
  while (!coins_unsent_.empty()) {
    Coin coin = std::move(coins_unsent_.front());
    coins_unsent_.pop_front();
    ++coins_in_flight_;
    std::vector<std::string> args{"HSET", "wallet", coin.hash, coin.bytes};
    redis_.command(std::move(args), [this, coin = std::move(coin)](services::RedisReply r) mutable {
      --coins_in_flight_;
      if (!r.ok()) {
        coins_unsent_.push_front(std::move(coin));
        redis_failed("store a coin", r.error);
      } else if (r.integer == 0) {
        info("We already had that coin");
      }
      maybe_stopped();
    });
  }
}

void Miner::redis_failed(const std::string& what, const std::string& why) {
  const std::uint64_t now = uv_now(loop_);
  if (now < redis_retry_at_)
    return; // already reported; one line per outage attempt
  redis_retry_at_ = now + options_.retry_wait_ms;
  error("Cannot {} in Redis: {}", what, why);
  if (!stopping_)
    error("Keeping {} units and {} coins; mining on, retrying Redis in {}s", units_unsent_,
          coins_unsent_.size(), fmt::format("{:g}", options_.retry_wait_ms / 1000.0));
}

void Miner::stop(std::uint64_t flush_ms, std::function<void()> done) {
  stopping_ = true;
  done_ = std::move(done);
  work_timer_.stop();
  update_timer_.stop();
  rng_.close();
  hasher_.close();
  if (units_done_ > 0)
    info("{} units of work done, updating hash counter", units_done_);
  units_unsent_ += units_done_;
  units_done_ = 0;
  redis_retry_at_ = 0; // one last try, whatever the retry wait says
  flush_to_redis();
  flush_deadline_.start<&Miner::flush_deadline_passed>(flush_ms);
  maybe_stopped();
}

void Miner::flush_deadline_passed() {
  redis_retry_at_ = UINT64_MAX; // nothing in flight counts any more
  units_in_flight_ = 0;
  coins_in_flight_ = 0;
  maybe_stopped();
}

void Miner::maybe_stopped() {
  if (!stopping_ || !done_ || units_in_flight_ > 0 || coins_in_flight_ > 0)
    return;
  if (units_unsent_ > 0 || !coins_unsent_.empty())
    error("Stopping with {} units and {} coins not saved in Redis", units_unsent_,
          coins_unsent_.size());
  work_timer_.close();
  update_timer_.close();
  flush_deadline_.close();
  redis_.close();
  auto done = std::move(done_);
  done_ = nullptr;
  done();
}

} // namespace worker
