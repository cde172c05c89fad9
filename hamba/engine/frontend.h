// One frontend: a listening socket, the backend (pool of servers) its connections are balanced
// over, the queue of clients waiting for a server with room (per-server maxconn), and its counters.
//
// Owned by the Engine; sessions hold it by shared_ptr, so a frontend removed by a reconfigure
// stops listening at once but stays valid for its sessions until they end.
#pragma once

#include "balance/backend.h"
#include "config/config.h"
#include "net/listener.h"

#include <deque>
#include <memory>

namespace hamba::net {
class Session;
}

namespace hamba::engine {

class Engine;

struct FrontendCounters {
  uint64_t current = 0;   // sessions now (queued, connecting or relaying)
  uint64_t total = 0;     // sessions accepted
  uint64_t bytes_in = 0;  // client -> server
  uint64_t bytes_out = 0; // server -> client
  uint64_t queued = 0;    // clients waiting for a server with room, now
  uint64_t failed = 0;    // clients closed because no server could be reached
  uint64_t timeouts = 0;  // sessions closed by the idle or queue timeout
};

// "0.0.0.0:80 (roundrobin): rng1:80, rng2:80", for logs ("*:80" for every address).
std::string describe(const config::Frontend& frontend);

class Frontend : public std::enable_shared_from_this<Frontend> {
public:
  Frontend(Engine& engine, const config::Frontend& config);
  ~Frontend();
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;

  // Binds the listening socket (throws net::ListenError) and starts resolving and checking.
  void start();
  // A new configuration with the same bind address.
  void update(const config::Frontend& config);
  // Stops listening (shutdown, or the frontend was removed). Established sessions go on.
  // With `serve_waiting`, the clients in the listener's accept queue are accepted first (beyond
  // the global maxconn: they are few, at most the backlog, and closing would reset them).
  void stop_listening(bool serve_waiting = true);
  // Removed by a reconfigure: also stops checks and closes the clients still queued.
  void retire(bool serve_waiting = true);

  const config::Frontend& config() const { return config_; }
  const FrontendCounters& counters() const { return counters_; }
  const balance::Backend& backend() const { return backend_; }
  balance::Backend& backend() { return backend_; }

  // --- for the engine and its sessions ---
  Engine& engine() { return engine_; }
  FrontendCounters& mutable_counters() { return counters_; }
  // Accepts the connection the listener holds, if any and the engine is below maxconn.
  void accept_pending();
  void enqueue(net::Session* session);
  void dequeue(net::Session* session);
  // Gives servers with room to queued clients, oldest first.
  void serve_queue();

private:
  Engine& engine_;
  config::Frontend config_;
  balance::Backend backend_;
  std::unique_ptr<net::Listener> listener_;
  std::deque<net::Session*> queue_;
  bool serving_queue_ = false;
  FrontendCounters counters_;
};

} // namespace hamba::engine
