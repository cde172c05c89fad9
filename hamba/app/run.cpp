// The serving process: engine, signals, control plane, and the graceful stop; see run.h.
#include "app/run.h"

#include "app/control_plane.h"
#include "app/limits.h"
#include "base/log.h"
#include "engine/engine.h"
#include "net/listening_socket.h"

#include <algorithm>

namespace hamba::app {

namespace {

// The limits in use, once at start: what an operator compares with `ulimit -n` and the load.
void log_limits(const FdLimit& fds, const config::Config& config, int maxconn_in_force) {
  std::string raised =
      fds.now > fds.before ? fmt::format(", raised from {}", fds.before) : std::string();
  if (config.maxconn) {
    // One the limit cannot hold is lowered by the engine, with one warning (engine.h).
    log::info("maxconn {} (configured); file-descriptor limit {}{}", *config.maxconn, fds.now,
              raised);
  } else {
    // The engine's figure: the limit less what is open already (listeners, one check per
    // server) and its reserve, so the number logged is the number held.
    log::info("maxconn {} (from the file-descriptor limit {}{}; set --maxconn to choose)",
              maxconn_in_force, fds.now, raised);
  }
}

} // namespace

int run(const cli::Command& command) {
  FdLimit fds = raise_fd_limit();
  uv_loop_t* loop = uv_default_loop();
  int status = 0;
  {
    engine::Engine engine(loop);
    engine.set_default_maxconn(maxconn_for_fds(fds.now));
    config::Config config;
    RunContext context{loop, engine, command};
    std::unique_ptr<ControlPlane> control_plane;
    uvx::Handle<uv_signal_t> sigterm, sigint, sighup;
    // SIGTERM or SIGINT: a graceful stop; the second one during the grace period ends it at once
    // (the engine, destroyed when the loop returns, closes what is still open): exit 0 either way.
    auto on_stop_signal = [&](const char* name) {
      if (engine.shutting_down()) {
        log::warn("{} again: closing {} connection(s) now", name, engine.session_count());
        uv_stop(loop);
        return;
      }
      log::info("{}: stopping", name);
      // The control plane goes now (and SIGHUP's reload with it); SIGHUP's default action would
      // then end the process in the middle of the grace period, so it is caught and ignored first.
      uv_signal_start(
          sighup.get(), [](uv_signal_t*, int) { log::info("SIGHUP: ignored, shutting down"); },
          SIGHUP);
      control_plane.reset();
      engine.shutdown(engine.config().grace, [loop] { uv_stop(loop); });
    };
    struct Stopper {
      decltype(on_stop_signal)* fn;
      const char* name;
    } on_term{&on_stop_signal, "SIGTERM"}, on_int{&on_stop_signal, "SIGINT"};
    auto on_signal = [](uv_signal_t* s, int) {
      auto* st = uvx::Handle<uv_signal_t>::owner<Stopper>(s);
      if (st)
        (*st->fn)(st->name);
    };
    uvx::check(sigterm.init([&](uv_signal_t* s) { return uv_signal_init(loop, s); }),
               "uv_signal_init");
    uvx::check(sigint.init([&](uv_signal_t* s) { return uv_signal_init(loop, s); }),
               "uv_signal_init");
    uvx::check(sighup.init([&](uv_signal_t* s) { return uv_signal_init(loop, s); }),
               "uv_signal_init");
    sigterm.set_data(&on_term);
    sigint.set_data(&on_int);
    uv_signal_start(sigterm.get(), on_signal, SIGTERM);
    uv_signal_start(sigint.get(), on_signal, SIGINT);

    // Bound only now: a client may connect (and a supervisor may signal) as soon as the first
    // socket listens, and a SIGTERM or SIGINT then must already mean a graceful stop.
    try {
      config = load_config(command);
      // One worker loop per CPU this process may use (affinity and cgroup quota), unless told.
      engine.set_threads(config.threads.value_or(usable_cpus()));
      engine.apply(config);
      log::info("{} worker thread(s){}", engine.threads(),
                config.threads ? "" : " (one per usable CPU; set --threads to choose)");
      log_limits(fds, config, engine.maxconn());
    } catch (const config::ConfigError& e) {
      log::error("{}", e.what());
      return 2;
    } catch (const net::ListenError& e) {
      log::error("{}", e.what());
      return 1;
    }
    if (config.frontends.empty())
      log::info("started with no frontend{}", config.docker
                                                  ? " of its own: containers' labels make them"
                                                  : ": waiting for `hamba reconfigure`");

    try {
      control_plane = start_control_plane(context);
    } catch (const std::exception& e) {
      log::error("{}", e.what());
      return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
  }
  // Let libuv run the close callbacks of everything the engine closed (and the cancelled name
  // lookups), so memory is freed; bounded, in case something is still alive.
  for (int i = 0; i < 100 && uv_loop_alive(loop); ++i) {
    uv_run(loop, UV_RUN_NOWAIT);
    if (uv_loop_alive(loop))
      uv_sleep(10);
  }
  return status;
}

} // namespace hamba::app
