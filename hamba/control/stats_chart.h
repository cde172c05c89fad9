// The stats page's live chart: connections per second of every server over the last two minutes,
// drawn by the page itself (inline SVG and script, nothing fetched, so it works offline).
//
//     out += render_rate_chart(stats);   // inside the page's <body>
//
// The page reloads itself every few seconds; each load adds the servers' connection totals of
// that instant to a history kept in the browser tab (sessionStorage, 61 samples), and the rates
// are the differences between successive samples. So hamba keeps no history of its own, and the
// chart starts drawing from the second load.
#pragma once

#include "control/stats_snapshot.h"

#include <string>

namespace hamba::control {

// The chart's HTML (heading, <svg id="rate-chart">, legend, script); empty with no frontend.
std::string render_rate_chart(const StatsSnapshot& stats);

} // namespace hamba::control
