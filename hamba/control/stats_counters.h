// Every number the admin endpoints show of a frontend or a server, declared once: its
// /stats.json key, its Prometheus family (name, type, help, label), its column on the stats page,
// where the live value is read (engine::FrontendCounters, balance::Server) and where a
// StatsSnapshot keeps its copy. collect_stats() copies through it; the page, /metrics and
// /stats.json are written by walking it, so a counter in the table is in all three.
//
// A field added to engine::FrontendCounters or balance::ServerCounters without a row here fails
// to compile (stats_counters.cpp compares the structs' sizes with the rows that read them).
//
// The table lives in control/ rather than next to the counters: the names, help and layout are
// how the admin endpoints present them, which engine/ and balance/ need not know about, and
// control/ may read both.
//
// Shown elsewhere, not numbers of these structs: a server's up (a bool), admin state (a label),
// last check time (seconds), and the workers' loads.
#pragma once

#include "control/stats_snapshot.h"

#include <cstdint>
#include <span>

namespace hamba::engine {
struct FrontendCounters;
}
namespace hamba::balance {
class Server;
}

namespace hamba::control {

enum class MetricType { counter, gauge };

// How the stats page writes a value.
enum class Shown {
  number,
  bytes, // a human size, the exact count in the title
  limit, // 0 is "-" (no limit)
};

template <typename Source, typename Stats> struct CounterRow {
  const char* json;   // key in /stats.json
  const char* metric; // Prometheus family; the rows of one family are next to each other
  const char* label;  // `reason="emfile"`: this row is one sample of a labelled family; or nullptr
  MetricType type;
  const char* help; // the family's HELP, on its first row
  // The stats page's column heading; nullptr: not on the page. A server row with the heading of
  // the row before shares its cell ("3 / 1"). A frontend row goes in the frontend's line under
  // the server column of the same heading, or else in the list below the table.
  const char* page;
  Shown shown;
  const char* page_title;          // the heading's tooltip, or nullptr
  uint64_t (*live)(const Source&); // the running value
  uint64_t (*read)(const Stats&);  // the snapshot's copy
  void (*write)(Stats&, uint64_t); // sets the snapshot's copy
  bool counted;                    // read from a field of the counters struct (the size check)
};

using FrontendCounterRow = CounterRow<engine::FrontendCounters, FrontendStats>;
using ServerCounterRow = CounterRow<balance::Server, ServerStats>;

// In /stats.json order (new keys go last, so the existing ones keep their places).
std::span<const FrontendCounterRow> frontend_counters();
std::span<const ServerCounterRow> server_counters();

} // namespace hamba::control
