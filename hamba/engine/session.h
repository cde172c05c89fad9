// One proxied connection: a client, the server chosen for it, and the pump between them.
//
// Life: accepted -> (queued while no server has room) -> connecting (a failed or slow connect
// is retried on the next server, `retries` times) -> relaying -> finished. A finished
// session is closed at once; the Engine unlists it and deletes it after the current loop phase
// (deferred deletion, so pointers held during one round of callbacks stay valid).
//
// The pump, per direction: reads land in the loop-wide buffer, are written straight to the
// other side when the kernel takes them, and only a remainder is kept (net/write_buffer.h);
// while a remainder is pending, the source is not read (backpressure: at most one block per
// direction). An EOF is passed on as a shutdown of the other side's write half once pending
// data is written (half-close); a reset is passed on as a reset.
#pragma once

#include "balance/server.h"
#include "base/uv_handle.h"
#include "net/listener.h"
#include "net/write_buffer.h"

#include <memory>
#include <string>

namespace hamba::engine {
class Frontend;
class Engine;
} // namespace hamba::engine

namespace hamba::net {

class Session {
public:
  // Accepts the listener's waiting connection into a new session of `frontend`.
  static void accept(std::shared_ptr<engine::Frontend> frontend, Listener& listener);

  // Called by the frontend when it has a server for this queued session.
  void connect(balance::ServerPtr server);
  // The engine's sweep, with the loop time: expired() only looks; on_timeout() acts (retries a
  // slow connect, closes a queued or idle session).
  bool expired(uint64_t now) const;
  void on_timeout();
  // Closes both sides now (end of the shutdown grace, frontend removed while queued).
  void close();
  bool queued() const { return state_ == State::queued && !finished_; }
  bool finished() const { return finished_; }
  ~Session();

  // Intrusive list of the engine's sessions (no allocation per session for the list).
  Session* prev = nullptr;
  Session* next = nullptr;

private:
  enum class State : uint8_t { queued, connecting, relaying };
  enum class End : uint8_t { normal, reset, error, timeout, no_server };

  struct Direction {
    WriteBlock* in_flight = nullptr; // blocks written by libuv, oldest first
    uint32_t pending = 0;            // bytes in those blocks
    bool eof = false;                // the source sent EOF
    bool shut = false;               // the destination's write half is shut down
    uv_shutdown_t* shutdown = nullptr;
  };

  explicit Session(std::shared_ptr<engine::Frontend> frontend);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start();
  void pick_and_connect(const balance::Server* failed);
  void on_connected(int status);
  void connect_failed(const std::string& why);
  void start_relaying();
  static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void forward(int dir, char* data, size_t len);
  void on_write_done(WriteBlock* block, int status);
  void on_eof(int dir);
  void on_shutdown_done(int dir, int status);
  void finish(End how, bool reset_client, bool reset_server);
  void report_end(End how, bool reset_server); // engine.on_session_end
  void release_server();

  uv_stream_t* source(int dir) const { return dir == 0 ? client_.stream() : server_conn_.stream(); }
  uv_stream_t* destination(int dir) const {
    return dir == 0 ? server_conn_.stream() : client_.stream();
  }

  std::shared_ptr<engine::Frontend> frontend_;
  balance::ServerPtr server_;
  uvx::Handle<uv_tcp_t> client_;
  uvx::Handle<uv_tcp_t> server_conn_;
  uv_connect_t* connect_ = nullptr;
  Direction dirs_[2];          // 0: client -> server, 1: server -> client
  uint64_t last_activity_ = 0; // loop time (ms) of the last read or state change
  // What the per-connection log needs; allocated only while engine.on_session_end is set, so
  // sessions cost one pointer more without it.
  struct LogState {
    uint64_t started = 0;       // loop time (ms) of the accept
    uint64_t bytes[2] = {0, 0}; // per direction
    std::string client;         // the peer is gone by the end, so it is noted at the start
  };
  std::unique_ptr<LogState> log_;
  State state_ = State::queued;
  uint8_t attempts_ = 0; // connects tried
  bool finished_ = false;
};

} // namespace hamba::net
