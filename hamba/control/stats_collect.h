// Fills a StatsSnapshot from the running engine: one copy of every counter, taken on the loop
// thread at one instant, for the stats page, /metrics and /stats.json.
#pragma once

#include "control/stats_snapshot.h"

namespace hamba::engine {
class Engine;
}

namespace hamba::control {

// `started_ms`: when hamba started (Unix ms), for the uptime.
StatsSnapshot collect_stats(const engine::Engine& engine, int64_t started_ms);

// Now, in Unix ms.
int64_t unix_now_ms();

} // namespace hamba::control
