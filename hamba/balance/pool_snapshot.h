// A backend's pool as the worker loops see it: every member with the state that decides whether
// it may take a new connection, copied on the main loop and never modified once published.
//
// The main loop owns health, admin state, weights and DNS (balance::Backend). Each change there
// publishes a new snapshot (Backend::snapshot()); workers swap their shared_ptr by message and
// pick from it with no lock. What must be exact across workers is not copied but shared:
// a server's `current` count (leastconn, maxconn: Server::try_acquire) and the round-robin turn.
//
//     auto pool = backend.snapshot();             // main loop
//     ServerPtr s = picker.pick(*pool, nullptr);  // any worker; s's slot is taken
#pragma once

#include "balance/server.h"
#include "balance/source_hash.h"

#include <atomic>
#include <memory>
#include <vector>

namespace hamba::balance {

class Backend;

struct PoolSnapshot {
  struct Entry {
    ServerPtr server;
    bool usable = false;  // enabled, still in DNS, and up
    bool enabled = false; // enabled and still in DNS: tried when no server is up
    bool failing = false; // passive health counts failures in a row: a success must reset them
    bool backup = false;  // a backup server (config::Server::backup)
    // May take new connections now, room aside: the servers of the set in use (see below).
    bool candidate = false;
    int maxconn = 0;     // 0: no limit
    uint32_t weight = 0; // effective weight at publication (slow start included)
  };
  // The set in use, HAProxy's rule: the normal servers that are up; if none is, the first
  // backup that is up (every backup up with `allbackups`); if none is either, every enabled
  // normal server is tried (every enabled backup when no normal one is enabled), since a
  // server a check has not yet seen come back may already answer. A full server (maxconn)
  // keeps its set in use: clients queue for it, they do not spill to the backups.
  std::vector<Entry> servers;
  config::Balance balance = config::Balance::roundrobin;
  bool any_up = false;    // some server is up
  bool on_backup = false; // the set in use is backups (no normal server is up)
  // roundrobin: one cycle of smooth weighted round robin over every member (indexes into
  // `servers`), and the position of the next pick, shared by every worker and by the snapshots
  // that follow, so turns are strict over the whole frontend whichever worker accepts.
  std::vector<uint32_t> order;
  std::shared_ptr<std::atomic<uint64_t>> turn;
  // source: the consistent-hash table over the members.
  std::shared_ptr<const MaglevTable> table;
  // The backend that published it, for the reports workers send the main loop (a failed
  // connect, a reset before the first byte). Locked on the main loop only.
  std::weak_ptr<Backend> owner;
};

using PoolSnapshotPtr = std::shared_ptr<const PoolSnapshot>;

// Builds the snapshot of `servers` at `now` (main loop). `turn` is carried from one snapshot to
// the next; `table` is reused while the members and their weights are the same.
PoolSnapshotPtr make_snapshot(const std::vector<ServerPtr>& servers, config::Balance balance,
                              std::shared_ptr<std::atomic<uint64_t>> turn,
                              SlowStart::Clock::time_point now,
                              std::shared_ptr<const MaglevTable> table = nullptr,
                              std::weak_ptr<Backend> owner = {}, bool allbackups = false);

// Marks the entries of the set in use (Entry::candidate) and sets any_up and on_backup.
void choose_candidates(PoolSnapshot& pool, bool allbackups);

// The longest round-robin cycle a snapshot holds: weights are scaled down to fit (each keeps at
// least one turn), so a pool of many heavy servers costs at most this many entries.
inline constexpr size_t kMaxCycle = 4096;

} // namespace hamba::balance
