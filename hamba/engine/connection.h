// One proxied connection: a client, the server chosen for it, and the relay between them, as an
// explicit state machine (engine/connection_state.h).
//
// It owns both transports (net/tcp_transport.h), the relay (net/relay.h), the bytes read ahead
// and its deadline entry; it talks to its frontend and worker only through ConnectionHost
// (engine/connection_host.h). The host owns the Connection: it deletes it after closed(), at the
// loop's next phase, so pointers held during one round of callbacks stay valid.
//
// Life: accepted -> prereading (accept_proxy, routes: the header and the hello are read ahead,
// net/preread.h, within preread_timeout) -> handshaking (tls: the client's side becomes a
// net::TlsTransport over its TCP one, within tls_handshake_timeout) -> choosing -> queued (no
// server has room; the client is read ahead into a bounded buffer meanwhile, so its hang-up is seen
// by the poller) -> connecting (retried on the next server `retries` times) -> sending_header
// (send_proxy with a silent client) -> relaying -> closing -> closed. Every end records who ended
// it (End).
//
// The bytes read ahead are one owned buffer: on connect they go to the server in one write,
// behind the send_proxy header if one is due, and the relay takes over. A full buffer stops
// reading the client (it waits); it is never an error.
#pragma once

#include "balance/pool_snapshot.h"
#include "base/intrusive_list.h"
#include "base/timer_wheel.h"
#include "base/uv_handle.h"
#include "config/config.h"
#include "engine/connection_host.h"
#include "engine/connection_state.h"
#include "net/listener.h"
#include "net/preread.h"
#include "net/proxy_header.h"
#include "net/relay.h"
#include "net/tcp_transport.h"
#include "net/tls_transport.h"

#include <memory>
#include <string>

namespace hamba::engine {

class Connection final : public base::TimerWheel::Entry, net::TransportHandler, net::RelayOwner {
public:
  // How a connection ends, and so who is to blame: a reset names the side that failed (it
  // reset, or a write or shutdown toward it failed); the other side gets a reset in turn.
  // `error` is hamba's own failure and `cut` hamba's decision (close()): both sides get a reset,
  // no side is blamed. Every other end closes both sides with a FIN. (The log's names for them
  // are in connection_end.cpp, in this order.)
  enum class End : uint8_t {
    closed,
    client_reset,
    server_reset,
    error,
    cut,
    timeout,
    no_server,
    abandoned,        // queued, and the client left before a server had room
    bad_proxy_header, // accept_proxy: missing, malformed, oversized or late
    bad_client_hello, // routes: not TLS, malformed or late
    refused,          // the address its PROXY header carried is refused (engine/admission.h)
    bad_handshake,    // tls: the handshake failed, or did not finish in time
    tarpitted,        // over a per-source limit after its PROXY header: its socket is held
  };
  enum class Culprit : uint8_t { none, client, server, hamba };
  static Culprit culprit_of(End end);

  // Accepts the listener's waiting connection: 0, or the libuv error of a failed accept.
  // `proxy_header`: accept_proxy, and the peer is a trusted sender: its header is read first.
  // `place`: its source's place in the per-source table, taken at accept (given back at its end).
  static int accept(std::shared_ptr<ConnectionHost> host, net::Listener& listener,
                    bool proxy_header, SourcePlace place);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // --- for the host ---
  // The queue's turn: `server`'s slot is taken for this queued connection.
  void connect(const balance::PoolSnapshot::Entry& server, const balance::PoolSnapshot& pool);
  // Loop time reached the deadline last set: acts if the state's deadline has really passed,
  // else sets the deadline again.
  void on_deadline(uint64_t now_ms);
  // Ends both sides now with a reset (end of the shutdown grace, frontend removed while queued).
  void close();
  ConnectionState state() const { return state_; }
  const FrontendView* routed_view() const { return routed_ ? routed_->view.get() : nullptr; }
  int route() const { return routed_ ? routed_->route : -1; }
  uint64_t client_hash() const { return client_hash_; }

  base::ListLink worker_link; // the worker's list of its connections
  base::ListLink queue_link;  // the frontend's queue, while queued
  // (Its base TimerWheel::Entry is its place among the worker's deadlines.)

private:
  explicit Connection(std::shared_ptr<ConnectionHost> host);
  void to(ConnectionState next);
  void start(const sockaddr_storage& peer);

  // --- before a server (connection.cpp) ---
  // One side's keepalive and user timeout on a new socket.
  static void set_tcp_options(int fd, const config::TcpOptions& o, config::Duration idle_timeout);
  // Reads on into ahead_ while it has room; false when that ended the connection.
  bool read_ahead();
  void on_ahead(size_t n);
  void examine();
  void preread_failed(const char* reason);
  void begin_handshake();
  void handshake_done();
  void handshake_failed(net::TlsFailure why, const char* text);
  // The client's stream: its TLS transport with tls, else its TCP one. (Before the handshake,
  // a PROXY header is read from the TCP one.)
  net::Transport& client_io() { return tls_ ? static_cast<net::Transport&>(*tls_) : client_; }
  std::unique_ptr<net::TlsTransport> make_tls();
  // The server's stream: its TLS transport with server_tls (a new session per connect), else
  // its TCP one.
  net::Transport& server_io() {
    return server_tls_ ? static_cast<net::Transport&>(*server_tls_) : server_conn_;
  }
  std::unique_ptr<net::TlsTransport> make_server_tls();
  // The lists applied to the address a PROXY header carried; false when that refused it.
  bool admit_carried(const net::PrereadResult& r);
  uint64_t deadline() const;

  // --- toward a server (connection_server.cpp) ---
  void choose(const balance::Server* failed);
  void enqueue(bool front);
  void connect_failed(int status); // a libuv error; UV_ETIMEDOUT for the connect timeout
  void short_of_resources(int rc);
  void server_handshake_failed();

  // --- the first bytes toward the server (connection_first_bytes.cpp) ---
  void on_connected(net::Transport& t, int status) override;
  void send_first_bytes();
  config::ProxyProtocol send_proxy() const;
  net::ProxyHeaderBytes proxy_header(config::ProxyProtocol protocol) const;
  // The header as sent: a v2 one from a TLS-terminating frontend carries the TLS facts.
  std::string header_bytes(config::ProxyProtocol protocol) const;
  void wait_for_first_bytes(config::ProxyProtocol protocol);
  void on_header_wait();
  // Writes the header due (if any) and `data` in one write; false when that ended it.
  bool write_first(config::ProxyProtocol protocol, const char* data, size_t len);
  // write_first, then relays; false when that ended it.
  bool send_header_and(config::ProxyProtocol protocol, const char* data, size_t len, bool eof);
  void start_relaying(bool client_eof);

  // --- events (connection_events.cpp) ---
  void on_read(net::Transport& from, const char* data, size_t len) override;
  void on_eof(net::Transport& from) override;
  void on_error(net::Transport& from, int error) override;
  void on_drained(net::Transport&) override {}
  void on_shut(net::Transport&) override {}
  void on_relay_activity(net::Direction dir, size_t bytes) override;
  void on_relay_end(net::RelayEnd how) override;

  // --- the end (connection_end.cpp) ---
  void finish(End how);
  void report_end(End how, ConnectionState was);
  void count_bytes(net::Direction dir, uint64_t n);
  // Gives the server's slot back; `serve_queue`: the queue is served at the next turn (not when
  // this connection goes back to the queue itself for hamba's own shortage: it would only
  // fail again at once).
  void release_server(bool serve_queue = true);
  void report_failure(const std::string& why);
  void report_success();
  std::string client_label() const;
  uint64_t now() const { return uv_now(host_->loop()); }

  std::shared_ptr<ConnectionHost> host_;
  ConnectionState state_ = ConnectionState::accepted;
  net::TcpTransport client_;
  net::TcpTransport server_conn_;
  std::unique_ptr<net::TlsTransport> tls_ = make_tls();               // tls: over client_
  std::unique_ptr<net::TlsTransport> server_tls_ = make_server_tls(); // over server_conn_
  net::Relay relay_{client_io(), server_io(), *this};
  // routes: the view its ClientHello was matched in, and the route's index there (-1: the
  // default route). Allocated only on frontends with routes.
  struct Routed {
    std::shared_ptr<const FrontendView> view;
    int route = -1;
  };
  std::unique_ptr<Routed> routed_;
  balance::ServerPtr server_;
  std::weak_ptr<balance::Backend> owner_; // the backend server_ came from (main loop's)
  bool server_failing_ = false;           // the snapshot said passive health counts its failures
  bool server_spoke_ = false;   // the server sent a byte (passive health: a reset after is fine)
  uint8_t attempts_ = 0;        // connects tried
  uint64_t since_ = 0;          // loop time (ms) the state's deadline counts from
  uint64_t wait_since_ = 0;     // loop time (ms) it began to look for a server (queue timeout)
  uint64_t last_activity_ = 0;  // loop time (ms) of the last byte either way (idle timeout)
  uint64_t client_hash_ = 0;    // balance: source: the client's address, hashed once
  bool expects_header_ = false; // a PROXY header comes first (accept_proxy, a trusted peer)
  SourcePlace source_place_;    // per_source: counted there until it ends
  // The client's bytes read before relaying: the PROXY header (consumed, not sent on) and what
  // follows it. One buffer per connection, only where a preread or the queue needs it.
  struct ReadAhead {
    size_t size = 0;     // bytes in data
    size_t consumed = 0; // of which the client's PROXY header
    size_t capacity = 0;
    size_t limit = 0;   // what capacity may grow to
    bool eof = false;   // the client sent EOF after them
    bool reset = false; // the client reset after them: they go on, then the reset
    std::unique_ptr<char[]> data;
    size_t payload() const { return size - consumed; }
  };
  std::unique_ptr<ReadAhead> ahead_;
  // The client's addresses as logs, stats and send_proxy show them: those an accepted PROXY
  // header carried, or, where a send_proxy header may be due, the connection's own peer address
  // kept from the accept (destination AF_UNSPEC: the listener's, or asked of the socket).
  struct Carried {
    sockaddr_storage source;
    sockaddr_storage destination;
  };
  std::unique_ptr<Carried> carried_;
  // sending_header: the header due, and its wait (a timer of its own: milliseconds, learnt by
  // the frontend, engine/header_wait.h).
  config::ProxyProtocol header_due_ = config::ProxyProtocol::none;
  struct HeaderTimer {
    uvx::Timer timer;
    uint64_t since = 0;
  };
  std::unique_ptr<HeaderTimer> header_wait_;
  // What the per-connection log needs; allocated only while it is on.
  struct LogState {
    uint64_t started = 0;
    uint64_t bytes[2] = {0, 0}; // indexed by net::Direction
    std::string client;
    std::string tls_subject; // client_ca: the client certificate's subject
  };
  std::unique_ptr<LogState> log_;
};

} // namespace hamba::engine
