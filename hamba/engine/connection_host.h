// What a connection needs of the frontend and the worker that run it, and nothing more: the
// narrow interface between engine/connection.h and engine/worker_frontend.h.
//
// The host is called from the connection's callbacks; it never calls back into that connection
// (nor any other) inline: a freed slot, a queue to serve and the next accept are posted to the
// worker loop's next turn (base/run_queue.h).
#pragma once

#include "balance/pool_snapshot.h"
#include "config/config.h"
#include "engine/frontend.h"
#include "engine/header_wait.h"
#include "engine/session_end.h"
#include "net/tls_transport.h"

#include <cstdint>
#include <functional>
#include <memory>

namespace hamba::engine {

class Connection;
class Engine;

class ConnectionHost {
public:
  virtual ~ConnectionHost() = default;

  // --- what the connection reads ---
  virtual uv_loop_t* loop() = 0;
  virtual const config::Frontend& config() const = 0;
  virtual const std::shared_ptr<const FrontendView>& view_ptr() const = 0;
  virtual FrontendCounters& counters() = 0;
  // The frontend's servers or one of its routes' are sent a PROXY header (send_proxy).
  virtual bool may_send_proxy() const = 0;
  // Every accepted client's local address when the listener is bound to one, else nullptr.
  virtual const sockaddr* local_address() const = 0;
  virtual HeaderWait& header_wait() = 0;
  // The per-connection log, or nullptr when it is off.
  virtual const std::function<void(const SessionEnd&)>* session_log() const = 0;
  virtual bool shutting_down() const = 0;
  // The frontend was removed (or the worker stops): nothing will serve its queue any more.
  virtual bool retired() const = 0;

  // --- choose a server ---
  struct Choice {
    const balance::PoolSnapshot::Entry* server = nullptr; // nullptr: none has room: queue
    const balance::PoolSnapshot* pool = nullptr;
  };
  // For a connection routed by `routed` (the view its ClientHello was matched in) to `route`
  // (-1: the default), avoiding `avoid` (a server that just failed). Takes the server's slot.
  virtual Choice choose(const FrontendView* routed, int route, const balance::Server* avoid,
                        uint64_t client_hash) = 0;

  // The slot of `server`'s last TLS session on this worker (server_tls), made at the first ask.
  virtual std::shared_ptr<net::TlsSessionSlot> tls_session(const balance::ServerPtr& server) = 0;

  // --- queue ---
  // At the back, or at the head for one that had its turn and lost it to hamba's own shortage.
  virtual void enqueue(Connection& c, bool front) = 0;
  // True when clients wait in this worker's queue for the one pool a newcomer would use (a
  // frontend without routes): the newcomer goes behind them, and the queue is served at the
  // next turn, since a slot may have been freed in this one. A frontend with routes has a pool
  // per route and lets newcomers take free slots (false).
  virtual bool queue_first() = 0;
  virtual void dequeue(Connection& c) = 0;

  // --- the worker's list ---
  // Accepted: the worker lists it (counts, the shutdown's close) before it starts.
  virtual void opened(Connection& c) = 0;

  // --- release ---
  // A server slot this frontend's connection held is free: the queue is served at the next turn.
  virtual void released() = 0;
  // The connection is closed: the worker unlists it, frees its global slot and deletes it after
  // the current loop phase.
  virtual void closed(Connection& c) = 0;
  // (Re)arms the connection's deadline: on_deadline() runs once loop time reaches `at_ms`.
  virtual void set_deadline(Connection& c, uint64_t at_ms) = 0;

  // --- report ---
  // Runs `message` on the main loop (passive health, a vanished server's last release).
  virtual void report(std::function<void(Engine&)> message) = 0;
  // hamba's own shortage (descriptors, memory, local ports) while doing `what`: logged at a
  // bounded rate, never blamed on a server.
  virtual void note_local_error(int rc, const char* what) = 0;
  // A client's TLS handshake failed: logged at a bounded rate (the counters have every one).
  virtual void note_tls_failure(net::TlsFailure why, const std::string& client,
                                const char* text) = 0;
  // A client refused for `why` (its address `source`): counted, and logged at most once per
  // source per 10 s.
  virtual void note_refusal(Refusal why, const sockaddr* source) = 0;
  // per_source action tarpit, for a client refused after its PROXY header: holds a duplicate of
  // its socket `fd` unread for tarpit_delay, then closes it (the connection then closes its own
  // descriptor without a reset). False, nothing held, when the tarpit is full.
  virtual bool hold_in_tarpit(int fd) = 0;
};

} // namespace hamba::engine
