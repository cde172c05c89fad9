// The balancing algorithms, run by each worker over a published pool (balance/pool_snapshot.h):
// which server gets the next connection.
//
// roundrobin is nginx's smooth weighted round robin (balance/weights.h), laid out as one cycle
// in the snapshot and walked by a position every worker shares: equal weights take turns in
// list order, so 30 sequential connections over 3 usable servers land 10/10/10 whichever
// worker accepts them, and weights 3:1 interleave A A B A. A server that cannot take the
// connection passes its turn to the next one in the cycle. leastconn picks the usable server
// with the fewest current sessions per weight (counts shared by every worker), taking turns
// among equals. source hashes the client's address into a Maglev table (balance/source_hash.h):
// the same address lands on the same server while it is usable. first (HAProxy's) takes the
// first server by order that has room (its maxconn), so connections gather on the fewest
// servers: weights play no part, and without maxconn the first server takes everything.
//
// Every policy chooses among the snapshot's set in use (PoolSnapshot::Entry::candidate): the
// normal servers that are up, else the backups (pool_snapshot.h).
//
// A server that is full (maxconn) is skipped; when no server can take the connection, pick()
// returns nullptr and the caller queues it. The server returned has its slot taken
// (Server::try_acquire): the session gives it back with Server::release().
#pragma once

#include "balance/pool_snapshot.h"
#include "balance/weights.h"

#include <vector>

namespace hamba::balance {

// One per worker and pool: what a pick reuses (no allocation per connection) and leastconn's
// turn among equals.
class Picker {
public:
  // The next server of `pool` with room, its slot taken, or nullptr; `avoid` (a server that
  // just failed) is taken only when nothing else is. `client_hash` is hash_client() of the
  // client's address (source only).
  const PoolSnapshot::Entry* pick(const PoolSnapshot& pool, const Server* avoid = nullptr,
                                  uint64_t client_hash = 0);

private:
  size_t choose(const PoolSnapshot& pool, const Server* avoid, uint64_t client_hash);

  std::vector<Load> loads_;
  size_t cursor_ = 0; // leastconn: where ties start
};

} // namespace hamba::balance
