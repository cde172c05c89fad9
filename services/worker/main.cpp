// worker: DockerCoins' miner. Asks rng for random bytes, hasher for their hash, stores coins in
// Redis and counts the work done (see miner.h for the loop and how it survives outages).
//
//     worker --rng rng:80 --hasher hasher:80 --redis redis:6379 --retry-wait 10
#include "common/flags.h"
#include "common/log.h"
#include "common/service_main.h"
#include "common/stop_signals.h"
#include "worker/miner.h"

#include <uv.h>

int main(int argc, char** argv) {
  services::Flags flags("worker", "DockerCoins worker: mines coins with rng and hasher, counts "
                                  "them in Redis.");
  flags.add("rng", "rng:80", "rng service, HOST:PORT");
  flags.add("hasher", "hasher:80", "hasher service, HOST:PORT");
  flags.add("redis", "redis:6379", "Redis server, HOST:PORT");
  flags.add("delay-ms", "100", "pause before each unit of work, in milliseconds");
  flags.add("retry-wait", "10",
            "seconds to wait after a failure of rng, hasher or Redis "
            "(fractions allowed: 0.5)");
  flags.add_switch("debug", "debug logs (also DEBUG=y)");
  flags.parse_or_exit(argc, argv);

  return services::run_service([&](uv_loop_t* loop) {
    worker::MinerOptions options;
    options.rng = flags.host_port("rng");
    options.hasher = flags.host_port("hasher");
    options.redis = flags.host_port("redis");
    options.delay_ms = flags.number("delay-ms", 0, 600000);
    const std::string& wait = flags.get("retry-wait");
    char* end = nullptr;
    const double wait_s = std::strtod(wait.c_str(), &end);
    if (wait.empty() || *end != '\0' || !(wait_s >= 0 && wait_s <= 3600))
      throw services::UsageError(fmt::format(
          "worker: --retry-wait (or RETRY_WAIT): '{}' is not a number of seconds from 0 to 3600",
          wait));
    options.retry_wait_ms = static_cast<std::uint64_t>(wait_s * 1000);
    services::log::init("worker", flags.on("debug"));

    worker::Miner miner(loop, options);
    services::StopSignals stop(loop, [&] { miner.stop(500, [] {}); });
    miner.start();
    uv_run(loop, UV_RUN_DEFAULT);
  });
}
