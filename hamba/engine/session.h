// One proxied connection: a client, the server chosen for it, and the pump between them.
//
// Life: accepted -> (preread: the client's PROXY header, its TLS ClientHello to pick the route,
// within preread_timeout) -> (queued while no server has room) -> connecting (a failed or slow
// connect is retried on the next server, `retries` times; once connected, a send_proxy header
// and the bytes read ahead go first) -> relaying -> finished. A finished
// session is closed at once; the Engine unlists it and deletes it after the current loop phase
// (deferred deletion, so pointers held during one round of callbacks stay valid).
//
// The pump, per direction: reads land in the loop-wide buffer, are written straight to the
// other side when the kernel takes them, and only a remainder is kept (net/write_buffer.h);
// while a remainder is pending, the source is not read (backpressure: at most one block per
// direction). An EOF is passed on as a shutdown of the other side's write half once pending
// data is written (half-close); a reset is passed on as a reset.
#pragma once

#include "balance/pool_snapshot.h"
#include "base/uv_handle.h"
#include "base/uv_request.h"
#include "config/config.h"
#include "net/listener.h"
#include "net/proxy_header.h"
#include "net/tls_client_hello.h"
#include "net/write_buffer.h"

#include <memory>
#include <string>

namespace hamba::engine {
class WorkerFrontend;
struct FrontendView;
} // namespace hamba::engine

namespace hamba::net {

class Session {
public:
  // Accepts the listener's waiting connection into a new session of `frontend`.
  static void accept(std::shared_ptr<engine::WorkerFrontend> frontend, Listener& listener);

  // Called by the frontend when it has a server for this queued session (its slot taken).
  void connect(const balance::PoolSnapshot::Entry& server, const balance::PoolSnapshot& pool);
  // The engine's sweep, with the loop time: expired() only looks; on_timeout() acts (retries a
  // slow connect, closes a queued or idle session).
  bool expired(uint64_t now) const;
  void on_timeout();
  // Ends both sides now with a reset (end of the shutdown grace, frontend removed while
  // queued): a client cut before its answer ended must not take the cut for an orderly end.
  void close();
  bool queued() const { return state_ == State::queued && !finished_; }
  // A queued client that has closed or reset its connection while it waited.
  bool client_gone() const;
  // Ends a queued session whose client is gone (no reset: nobody is left to receive it).
  void abandon();
  // The route this session's server comes from: -1 for the frontend's own servers, else an
  // index into routed_view()'s routes.
  const engine::FrontendView* routed_view() const { return routed_view_.get(); }
  int route() const { return route_; }
  uint64_t client_hash() const { return client_hash_; }
  bool finished() const { return finished_; }
  ~Session();

  // Intrusive list of the engine's sessions (no allocation per session for the list).
  Session* prev = nullptr;
  Session* next = nullptr;

private:
  // preread: reading the client's PROXY header and/or TLS ClientHello before any server.
  enum class State : uint8_t { preread, queued, connecting, relaying };

  // The two connections of a session, and the two ways bytes flow between them.
  enum class Side : uint8_t { client, server };
  enum class Direction : uint8_t { to_server, to_client };
  static constexpr Side source(Direction d) {
    return d == Direction::to_server ? Side::client : Side::server;
  }
  static constexpr Side destination(Direction d) {
    return d == Direction::to_server ? Side::server : Side::client;
  }

  // How a session ends. A reset names the side that failed (it reset, or a write or shutdown
  // toward it failed): the other side gets a reset in turn, and the log and the stats blame the
  // failed one. `error` is hamba's own failure and `cut` hamba's decision (close()): both sides
  // get a reset, no side is blamed. Every other end closes both sides with a FIN.
  enum class End : uint8_t {
    closed,
    client_reset,
    server_reset,
    error,
    cut,
    timeout,
    no_server,
    bad_proxy_header, // accept_proxy: missing, malformed, oversized or late
    bad_client_hello, // routes: not TLS, malformed or late
  };
  static constexpr End reset_by(Side failed) {
    return failed == Side::client ? End::client_reset : End::server_reset;
  }

  // What the kernel did not take of one read, written by libuv when the socket can take more.
  struct Remainder {
    Direction direction;
    uint32_t size;
    char data[kBufferSize];
  };

  // One direction of the pump.
  struct Pump {
    uvx::Requests<uv_write_t, Remainder> write; // remainders in flight (reading waits for them)
    uvx::Requests<uv_shutdown_t, Direction> shutdown;
    uint32_t pending = 0; // bytes in the remainders in flight
    bool eof = false;     // the source sent EOF
    bool shut = false;    // the destination's write half is shut down
  };

  explicit Session(std::shared_ptr<engine::WorkerFrontend> frontend);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // `peer`: the client's address as the accept gave it (AF_UNSPEC: unknown, asked of the socket).
  void start(const sockaddr_storage& peer);
  void pick_and_connect(const balance::Server* failed);
  void on_connected(int status);
  void connect_failed(int status); // a libuv error; UV_ETIMEDOUT for the connect timeout
  void short_of_resources(int rc); // a local error (EMFILE...) at the connect: back to the queue
  void start_relaying();
  // Preread (the frontend has accept_proxy or routes): the client's first bytes are read into
  // preread_ (one buffer per session, not per read) until the header and the ClientHello are
  // whole; the header is consumed, every other byte goes to the server once connected.
  static void on_preread_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  void on_preread(ssize_t nread);
  // The client's reads stay on from the preread until relaying (no stop and restart around the
  // queue and the connect: two epoll_ctl calls less per connection); what it sends meanwhile
  // joins the bytes read ahead, within the same buffer.
  void on_read_ahead(ssize_t nread);
  void examine_preread();
  void preread_failed(const char* reason);
  // On connect: the PROXY header for the server and the client's first bytes (read ahead, or
  // whatever the client has sent by then) in one write; false when that ended the session.
  bool send_preread();
  ProxyHeaderBytes proxy_header(config::ProxyProtocol protocol) const;
  // When the client has sent nothing by the connect, the header waits for its first read, so
  // that both still go in one segment; a server that speaks first (SMTP, MySQL) gets it alone
  // after the frontend's header_wait().ms(). `data` is that read (in the loop's read buffer), or
  // nothing. Which side spoke first, and when, teaches the frontend how long to wait.
  void on_header_wait();
  void send_due_header(const char* data, size_t len);
  void client_spoke(); // its first bytes, while or after the header waited
  std::string client_label() const;
  static void on_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf);
  static void on_read_cb(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void count_bytes(Direction dir, uint64_t n);
  void forward(Direction dir, const char* data, size_t len);
  void on_write_done(Remainder& written, int status);
  void on_eof(Direction dir);
  void on_shutdown_cb(Direction& dir, int status); // uv_shutdown's
  void on_shutdown_done(Direction dir, int status);
  void finish(End how);
  void report_end(End how); // engine.on_session_end
  void release_server();
  // Passive health, on the main loop that owns it: `server_` failed (why) or spoke.
  void report_failure(const std::string& why);
  void report_success();
  uv_loop_t* loop() const;

  uvx::Handle<uv_tcp_t>& tcp(Side side) { return side == Side::client ? client_ : server_conn_; }
  uv_stream_t* stream(Side side) { return tcp(side).stream(); }
  Pump& pump(Direction dir) { return pumps_[static_cast<int>(dir)]; }

  std::shared_ptr<engine::WorkerFrontend> frontend_;
  // The SNI route taken, as an index into the view it was matched in (-1: the default one).
  std::shared_ptr<const engine::FrontendView> routed_view_;
  int route_ = -1;
  balance::ServerPtr server_;
  std::weak_ptr<balance::Backend> owner_; // the backend server_ came from (main loop's)
  bool server_failing_ = false;           // the snapshot said passive health counts its failures
  uvx::Handle<uv_tcp_t> client_;
  uvx::Handle<uv_tcp_t> server_conn_;
  uvx::Requests<uv_connect_t> connect_;
  Pump pumps_[2];              // indexed by Direction
  uint64_t last_activity_ = 0; // loop time (ms) of the last read or state change
  // What the per-connection log needs; allocated only while engine.on_session_end is set, so
  // sessions cost one pointer more without it.
  struct LogState {
    uint64_t started = 0;       // loop time (ms) of the accept
    uint64_t bytes[2] = {0, 0}; // indexed by Direction
    std::string client;         // the peer is gone by the end, so it is noted at the start
  };
  std::unique_ptr<LogState> log_;
  // The client's first bytes, while they are read ahead and until they are sent on.
  struct Preread {
    size_t size = 0;   // bytes in data
    size_t header = 0; // of which the client's PROXY header (consumed, not sent on)
    bool header_done = false;
    size_t capacity = 0; // what the frontend may need: a PROXY header, a ClientHello or both
    std::unique_ptr<char[]> data;
  };
  std::unique_ptr<Preread> preread_;
  // The client's addresses as logs, stats and send_proxy show them: those an accepted PROXY
  // header carried (none for LOCAL or UNKNOWN), or, where a send_proxy header may be due, the
  // connection's own peer address kept from the accept (destination AF_UNSPEC: the listener's,
  // or asked of the socket).
  struct Carried {
    sockaddr_storage source;
    sockaddr_storage destination;
  };
  std::unique_ptr<Carried> carried_;
  // The send_proxy header still to send (none: sent, or none to send), and its wait: kept past
  // its deadline until one side speaks, to learn from (HeaderTimer::since, loop time).
  config::ProxyProtocol header_due_ = config::ProxyProtocol::none;
  struct HeaderTimer {
    uvx::Timer timer;
    uint64_t since = 0;
  };
  std::unique_ptr<HeaderTimer> header_wait_;
  State state_ = State::queued;
  uint8_t attempts_ = 0; // connects tried
  bool finished_ = false;
  bool read_ahead_on_ = false; // the client's reads, started for the preread, are still on
  bool server_spoke_ = false;  // the server sent a byte (passive health: a reset after is fine)
  uint64_t client_hash_ = 0;   // balance: source: the client's address, hashed once
};

} // namespace hamba::net
