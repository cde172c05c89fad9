// bench_kernel_relay: a TCP relay from one address to its servers whose established connections
// the kernel relays through a BPF sockmap (kernel_relay.h), or hamba's user-space relay
// (hamba/net/relay.h) with --user: the two sides of the A/B that issue 24's kernel relay was
// measured by (bench/README.md, "Kernel relay"). An experiment kept under bench/, not part of
// hamba.
//
//     bench_kernel_relay 127.0.0.1:8000 127.0.0.1:6379              # the kernel relay
//     bench_kernel_relay 127.0.0.1:8000 127.0.0.1:6379 --user       # the user relay
//     bench_kernel_relay :8000 127.0.0.1:81 127.0.0.1:82            # servers in turn
//     bench_kernel_relay --check                                     # can it load here?
//
// Each of --threads loops has its own SO_REUSEPORT socket on the address; each connection lives
// on the loop that accepted it. It connects to a server (IP literals, taken in turn by each
// loop, as bench/run's other proxies balance round robin), then pairs the two sockets in the
// sockmap; a connection the kernel does not take (a socket no longer ESTABLISHED: the client
// sent its FIN before the server answered the connect) stays on the user relay. Needs CAP_BPF
// and CAP_NET_ADMIN; exit 3 (one line on stderr) where the program cannot be loaded, 2 for
// usage. It runs until killed.
#include "base/endpoint.h"
#include "base/uv_handle.h"
#include "kernel_relay.h"
#include "net/listener.h"
#include "net/listening_socket.h"
#include "net/relay.h"
#include "net/tcp_transport.h"
#include "sockmap.h"

#include <charconv>
#include <csignal>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

namespace kbench {
namespace {

namespace net = hamba::net;

struct Settings {
  hamba::Endpoint listen;
  std::vector<sockaddr_storage> servers;
  int threads = 1;
  bool user = false;
  bool check = false;
  bool log = false; // one line per connection on stderr: which relay took it (for the test)
  KernelRelay::Options kernel;
};

class Worker;

// One proxied connection: the client's and the server's transports, and whichever relay moves
// their bytes. Owned by its worker, deleted on the worker's next loop round after it ends.
class Session final : public net::TransportHandler, public net::RelayOwner {
public:
  explicit Session(Worker& worker) : worker_(worker) {}
  // Accepts the waiting client and connects to the server; false when that failed.
  bool start(net::Listener& listener);
  bool finished() const { return finished_; }

private:
  // The server's connect (the only transport event before a relay takes over).
  void on_connected(net::Transport&, int status) override;
  void on_read(net::Transport&, const char*, size_t) override {}
  void on_eof(net::Transport&) override {}
  void on_error(net::Transport&, int) override { finish(net::RelayEnd::server_reset); }
  void on_drained(net::Transport&) override {}
  void on_shut(net::Transport&) override {}
  // RelayOwner
  void on_relay_activity(net::Direction, size_t) override {}
  void on_relay_end(net::RelayEnd how) override { finish(how); }
  void finish(net::RelayEnd how);
  void say(const char* relay) const;

  Worker& worker_;
  net::TcpTransport client_;
  net::TcpTransport server_;
  net::Relay relay_{client_, server_, *this};
  std::unique_ptr<KernelRelay> kernel_;
  bool finished_ = false;
};

// One loop on one thread: its listening socket's copy and its sessions.
class Worker {
public:
  Worker(const Settings& settings, Sockmap* map) : settings_(settings), map_(map) {
    uvx::check(uv_loop_init(&loop_), "uv_loop_init");
    net::ListeningSocket socket(&loop_, settings.listen, true);
    listener_ = std::make_unique<net::Listener>(&loop_, ::dup(socket.fd()), socket.bound(),
                                                [this] { accept_pending(); });
    uvx::check(reap_.init([&](uv_check_t* c) { return uv_check_init(&loop_, c); }),
               "uv_check_init");
    reap_.set_data(this);
    uv_check_start(reap_.get(), [](uv_check_t* c) {
      if (auto* self = uvx::Handle<uv_check_t>::owner<Worker>(c))
        self->reap();
    });
    uv_unref(reap_.base());
  }
  void run() { uv_run(&loop_, UV_RUN_DEFAULT); }
  uv_loop_t* loop() { return &loop_; }
  const Settings& settings() const { return settings_; }
  Sockmap* map() const { return settings_.user ? nullptr : map_; }
  const sockaddr_storage& next_server() {
    return settings_.servers[next_server_++ % settings_.servers.size()];
  }

private:
  void accept_pending() {
    while (listener_->pending()) {
      auto s = std::make_unique<Session>(*this);
      if (s->start(*listener_))
        sessions_.push_back(std::move(s));
    }
  }
  // Sessions that ended are deleted here, outside any of their callbacks.
  void reap() {
    std::erase_if(sessions_, [](const std::unique_ptr<Session>& s) { return s->finished(); });
  }

  const Settings& settings_;
  Sockmap* map_;
  uv_loop_t loop_{};
  std::unique_ptr<net::Listener> listener_;
  uvx::Handle<uv_check_t> reap_;
  std::vector<std::unique_ptr<Session>> sessions_;
  size_t next_server_ = 0;
};

bool Session::start(net::Listener& listener) {
  const int fd = listener.accept();
  if (fd < 0 || client_.adopt(worker_.loop(), fd) < 0)
    return false;
  server_.set_handler(this);
  const int rc =
      server_.connect(worker_.loop(), reinterpret_cast<const sockaddr*>(&worker_.next_server()));
  if (rc < 0) {
    client_.reset();
    return false;
  }
  if (rc == 1) // connected at once: no on_connected comes
    on_connected(server_, 0);
  return true;
}

void Session::on_connected(net::Transport&, int status) {
  if (status < 0) {
    finish(net::RelayEnd::server_reset);
    return;
  }
  if (Sockmap* map = worker_.map()) {
    kernel_ =
        std::make_unique<KernelRelay>(*map, client_, server_, *this, worker_.settings().kernel);
    if (kernel_->start(worker_.loop())) {
      say("kernel");
      return;
    }
    kernel_.reset(); // not established any more, or the map is full: the user relay takes it
  }
  say("user");
  relay_.start(false);
}

void Session::say(const char* relay) const {
  if (worker_.settings().log)
    std::fprintf(stderr, "bench_kernel_relay: a connection relayed by the %s relay\n", relay);
}

void Session::finish(net::RelayEnd how) {
  if (finished_)
    return;
  finished_ = true;
  if (kernel_)
    kernel_->stop(); // out of the map before the sockets close
  if (how == net::RelayEnd::client_reset)
    server_.reset();
  else if (how == net::RelayEnd::server_reset)
    client_.reset();
  client_.close();
  server_.close();
}

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_kernel_relay: %s\nusage: bench_kernel_relay LISTEN SERVER... [--user] "
               "[--threads N] [--no-rcvlowat] [--no-count] [--log] [--pair-gap-ms N]\n       "
               "bench_kernel_relay --check\n",
               why);
  return 2;
}

} // namespace
} // namespace kbench

int main(int argc, char** argv) {
  using namespace kbench;
  Settings settings;
  std::vector<std::string_view> positional;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--user") {
      settings.user = true;
    } else if (a == "--pair-gap-ms" && i + 1 < argc) {
      std::string_view n = argv[++i];
      auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), settings.kernel.pair_gap_ms);
      if (ec != std::errc() || end != n.data() + n.size() || settings.kernel.pair_gap_ms > 1000)
        return usage(("--pair-gap-ms wants 0 to 1000, not '" + std::string(n) + "'").c_str());
    } else if (a == "--log") {
      settings.log = true;
    } else if (a == "--check") {
      settings.check = true;
    } else if (a == "--no-rcvlowat") {
      settings.kernel.rcvlowat = false;
    } else if (a == "--no-count") {
      settings.kernel.counted = false;
    } else if (a == "--threads" && i + 1 < argc) {
      std::string_view n = argv[++i];
      auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), settings.threads);
      if (ec != std::errc() || end != n.data() + n.size() || settings.threads < 1 ||
          settings.threads > 64)
        return usage(("--threads wants 1 to 64, not '" + std::string(n) + "'").c_str());
    } else if (a.starts_with("--")) {
      return usage(("unknown option '" + std::string(a) + "'").c_str());
    } else {
      positional.push_back(a);
    }
  }
  std::unique_ptr<Sockmap> map;
  if (!settings.user) {
    std::string why;
    map = Sockmap::load(settings.kernel.counted, why);
    if (!map) {
      std::fprintf(stderr, "bench_kernel_relay: %s\n", why.c_str());
      return 3;
    }
  }
  if (settings.check) {
    std::fprintf(stderr, "bench_kernel_relay: the BPF sockmap loads here\n");
    return 0;
  }
  if (positional.size() < 2)
    return usage("wants LISTEN and a SERVER");
  try {
    settings.listen = hamba::parse_endpoint(positional[0], 0);
    for (size_t i = 1; i < positional.size(); ++i) {
      hamba::Endpoint server = hamba::parse_endpoint(positional[i]);
      if (!hamba::ip_literal_sockaddr(server.host, server.port, settings.servers.emplace_back()))
        return usage(("a server must be an IP literal, not '" + server.host + "'").c_str());
    }
  } catch (const hamba::EndpointError& e) {
    return usage(e.what());
  }
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::unique_ptr<Worker>> workers;
  try {
    for (int i = 0; i < settings.threads; ++i)
      workers.push_back(std::make_unique<Worker>(settings, map.get()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kernel_relay: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "bench_kernel_relay: listening on %s, %d thread(s), %s relay%s%s\n",
               hamba::format_endpoint(settings.listen).c_str(), settings.threads,
               settings.user ? "user" : "kernel",
               !settings.user && !settings.kernel.rcvlowat ? ", no SO_RCVLOWAT" : "",
               !settings.user && !settings.kernel.counted ? ", uncounted" : "");
  std::vector<std::thread> threads;
  for (auto& w : workers)
    threads.emplace_back([&w] { w->run(); });
  for (auto& t : threads)
    t.join();
  return 0;
}
