// The control plane of a running hamba (see control_plane.h): the configuration from
// --config files, the control socket and the client commands that talk to it, reload on SIGHUP
// and file change, and the admin endpoints.
//
//     hamba run --config hamba.yaml          # serves; `kill -HUP` or editing the file reloads
//     hamba reconfigure 80 web1:80 web2:80   # same forms as the command line; validated here,
//                                            # applied there, refused with the reason otherwise
//     hamba showconfig | hamba drain web1:80
#include "app/control_plane.h"

#include "app/discovered_config.h"
#include "base/log.h"
#include "control/admin_server.h"
#include "control/config_watcher.h"
#include "control/connection_log.h"
#include "control/control_client.h"
#include "control/control_server.h"
#include "control/stats_collect.h"
#include "discovery/docker_provider.h"
#include "discovery/labels.h"

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <set>

namespace hamba::app {
namespace {

const char* action_name(cli::Action action) {
  switch (action) {
  case cli::Action::reconfigure:
    return "reconfigure";
  case cli::Action::showconfig:
    return "showconfig";
  case cli::Action::status:
    return "status";
  case cli::Action::enable:
    return "enable";
  case cli::Action::disable:
    return "disable";
  case cli::Action::drain:
    return "drain";
  case cli::Action::weight:
    return "weight";
  default:
    return "?";
  }
}

std::string frontend_count(const config::Config& config) {
  size_t n = config.frontends.size();
  return fmt::format("{} frontend{}", n, n == 1 ? "" : "s");
}

// Owns the control socket, the admin server and the file watcher; all of them call back into
// the engine on the main loop.
class ControlPlaneImpl final : public ControlPlane {
public:
  explicit ControlPlaneImpl(RunContext& context)
      : context_(context), engine_(context.engine), started_ms_(control::unix_now_ms()),
        started_with_(context.engine.config()),
        admin_(context.loop, [this] { return control::collect_stats(engine_, started_ms_); }) {
    reconcile_timer_.init(context.loop, this);
    listen_admin(engine_.config().admin);
    follow_docker(engine_.config().docker);
    start_control();
    start_connection_log();
    if (context.command.config_files.empty())
      ignore_sighup();
    else
      watcher_ = std::make_unique<control::ConfigWatcher>(
          context.loop, context.command.config_files,
          [command = context.command] { return load_config(command); }, // on the thread pool
          [this](config::Config config, bool startup_check) { reloaded(config, startup_check); },
          [](const std::string& reason) {
            log::error("configuration not reloaded, the running one stays: {}", reason);
          });
  }

private:
  // With no file to reload, SIGHUP must not do its default (end the process): it only logs.
  void ignore_sighup() {
    uvx::check(sighup_.init([&](uv_signal_t* s) { return uv_signal_init(context_.loop, s); }),
               "SIGHUP");
    uvx::check(uv_signal_start(
                   sighup_.get(),
                   [](uv_signal_t*, int) {
                     log::info("SIGHUP: no --config file to reload (use hamba reconfigure)");
                   },
                   SIGHUP),
               "SIGHUP");
  }

  void listen_admin(const std::string& address) {
    admin_.listen(address);
    if (!address.empty())
      log::info("admin endpoints on http://{}/ (/metrics, /stats.json)", address);
  }

  void start_control() {
    const cli::Command& command = context_.command;
    std::string path = control::socket_path(command.control_path);
    try {
      control_ = std::make_unique<control::ControlServer>(
          context_.loop, path, [this](const control::Request& r) { return handle(r); });
      log::info("control socket {} (hamba reconfigure, showconfig, status, enable, disable, "
                "drain)",
                path);
    } catch (const std::exception& e) {
      // Asked for by name: failing to provide it is fatal. The default is a convenience: a
      // balancer that cannot write to $HOME still balances.
      if (!command.control_path.empty())
        throw;
      log::warn("no control socket: {}", e.what());
    }
  }

  // --log-connections / HAMBA_LOG_CONNECTIONS = text|json: one line per connection as it ends
  // (the command line checked the word). The hook stays set after this object goes (it captures
  // nothing of it), so connections that finish during the shutdown grace are logged too.
  void start_connection_log() {
    auto format = control::parse_connection_log_format(context_.command.log_connections);
    if (format == control::ConnectionLogFormat::off)
      return;
    engine_.set_session_log([format](const engine::SessionEnd& e) {
      control::log_connection({e.frontend, e.client, e.server, e.address, e.bytes_in, e.bytes_out,
                               std::chrono::milliseconds(e.duration_ms), e.end, e.tls_subject},
                              format);
    });
  }

  // A configuration that names no admin endpoint keeps the running one: `hamba reconfigure
  // PORT SERVERS...` run without ADMIN in its environment must not close the stats page and
  // /metrics behind the operator's back.
  config::Config keeping_admin(config::Config config) const {
    if (config.admin.empty())
      config.admin = admin_.address();
    // Likewise the Docker provider: a `hamba reconfigure PORT SERVERS...` must not end the
    // discovery it knows nothing about (stopping it takes a restart without --docker).
    if (!config.docker)
      config.docker = engine_.config().docker;
    return config;
  }

  // Applies `requested` (its configured frontends: discovered ones in it are dropped, the
  // provider's current ones added) to the engine and the admin server, or throws leaving both
  // as they were; the Docker provider follows its docker: setting.
  void apply(const config::Config& requested_with_any_discovered) {
    config::Config requested = configured_part(requested_with_any_discovered);
    std::string old_admin = admin_.address();
    config::Config config = with_discovery(keeping_admin(requested));
    // A port that a configured frontend leaving holds stays bound until this apply has retired
    // it (new listeners bind first): a discovered frontend that wants it opens a moment later.
    const config::Config running = engine_.config();
    bool deferred =
        std::erase_if(config.frontends, [&](const config::Frontend& f) {
          return !f.provider.empty() &&
                 std::none_of(running.frontends.begin(), running.frontends.end(),
                              [&](const auto& r) {
                                return r.bind.port == f.bind.port && !r.provider.empty();
                              }) &&
                 std::any_of(running.frontends.begin(), running.frontends.end(),
                             [&](const auto& r) { return r.bind.port == f.bind.port; });
        }) > 0;
    if (requested.admin.empty() && !old_admin.empty())
      log::info("admin endpoints stay on http://{}/: the new configuration names none", old_admin);
    else if (config.admin != old_admin && !old_admin.empty())
      log::info("admin endpoints move from http://{}/ to http://{}/", old_admin, config.admin);
    if (config.admin != old_admin)
      try {
        listen_admin(config.admin);
      } catch (...) {
        restore_admin(old_admin);
        throw;
      }
    try {
      engine_.apply(config);
    } catch (...) {
      if (config.admin != old_admin)
        restore_admin(old_admin);
      throw;
    }
    follow_docker(config.docker);
    if (deferred)
      reconcile_later(kReconcileSoonMs);
  }

  // Discovered frontends that could not open (a port still held) are tried again: soon after a
  // reconfigure freed their port, then every second.
  static constexpr uint64_t kReconcileSoonMs = 100;
  static constexpr uint64_t kReconcileRetryMs = 1000;
  void reconcile_later(uint64_t ms) { reconcile_timer_.start<&ControlPlaneImpl::reconcile>(ms); }

  // --- the Docker provider (docs/docker.md) ---

  // Starts, restarts or stops following Docker as `docker` says.
  void follow_docker(const std::optional<config::Docker>& docker) {
    if (docker && docker_ && docker_->settings() == *docker)
      return;
    docker_.reset();
    if (!docker) {
      if (!containers_.empty()) {
        containers_.clear();
        reconcile(); // the discovered frontends go
      }
      return;
    }
    log::info("docker: frontends from the hamba.* labels of containers on {}{}", docker->socket,
              docker->network.empty() ? "" : " (network " + docker->network + ")");
    docker_ = std::make_unique<discovery::DockerProvider>(
        context_.loop, *docker, [this](std::vector<discovery::Container> running) {
          containers_ = std::move(running);
          reconcile();
        });
  }

  // `configured` with what the last container list discovers; problems are logged once each,
  // for as long as they last.
  config::Config with_discovery(const config::Config& configured) {
    discovery::Discovery found;
    if (configured.docker)
      found = discovery::discover(containers_, configured.docker->network, configured.frontends);
    std::set<std::string> now(found.problems.begin(), found.problems.end());
    for (const std::string& line : found.problems)
      if (!problems_logged_.count(line))
        log::warn("docker: {}", line);
    problems_logged_ = std::move(now);
    return with_discovered(configured, std::move(found.frontends), engine_.config());
  }

  // A new container list: the engine gets the configured frontends and the discovered ones.
  void reconcile() {
    const config::Config& running = engine_.config();
    config::Config next = with_discovery(configured_part(running));
    std::vector<config::Frontend> before = discovered_part(running);
    if (next == running)
      return;
    try {
      engine_.apply(next);
      listen_refused_.clear();
    } catch (const std::exception& e) {
      apply_one_by_one(next, e.what());
    }
    for (const std::string& line : discovered_changes(before, discovered_part(engine_.config())))
      log::info("docker: {}", line);
  }

  // The whole change was refused (a port another process holds): the discovered frontends
  // already listening are updated, and each new one is tried alone, so one bad port does not
  // hold the others back.
  void apply_one_by_one(const config::Config& next, const std::string& why) {
    const config::Config running = engine_.config();
    config::Config base = configured_part(running);
    std::vector<config::Frontend> fresh;
    for (const config::Frontend& f : discovered_part(next)) {
      bool listening = std::any_of(running.frontends.begin(), running.frontends.end(),
                                   [&](const auto& r) { return r.bind.port == f.bind.port; });
      (listening ? base.frontends : fresh).push_back(f);
    }
    std::set<std::string> refused;
    auto note = [&](const std::string& line) {
      if (!listen_refused_.count(line))
        log::warn("docker: {}", line);
      refused.insert(line);
    };
    try {
      engine_.apply(base);
    } catch (const std::exception& e) {
      note(fmt::format("the discovered configuration is refused, the running one stays: {}",
                       e.what()));
      listen_refused_ = std::move(refused);
      reconcile_later(kReconcileRetryMs);
      return;
    }
    for (const config::Frontend& f : fresh) {
      config::Config trial = base;
      trial.frontends.push_back(f);
      try {
        engine_.apply(trial);
        base = std::move(trial);
      } catch (const std::exception& e) {
        note(fmt::format("frontend {} not opened: {}", f.name, e.what()));
      }
    }
    if (refused.empty()) // the whole change failed, each part passed: a passing condition
      note(fmt::format("the discovered configuration was refused once: {}", why));
    listen_refused_ = std::move(refused);
    reconcile_later(kReconcileRetryMs);
  }

  void restore_admin(const std::string& address) {
    try {
      admin_.listen(address);
    } catch (const std::exception& e) {
      log::error("admin endpoints lost: {}", e.what());
    }
  }

  void reloaded(const config::Config& config, bool startup_check) {
    if (startup_check) {
      // The file changed while hamba started? Otherwise keep quiet, and keep any enable,
      // disable or drain made meanwhile.
      if (config == started_with_)
        return;
      log::info("configuration file changed while starting: applying it");
    } else if (keeping_admin(configured_part(config)) == configured_part(engine_.config()) &&
               std::none_of(config.frontends.begin(), config.frontends.end(),
                            [](const config::Frontend& f) { return f.tls || f.server_tls; })) {
      // (With tls the certificate files are read again: they may have changed.)
      log::info("configuration file reloaded: unchanged");
      return;
    }
    try {
      apply(config);
      log::info("configuration file reloaded: {}", frontend_count(config));
    } catch (const std::exception& e) {
      log::error("configuration not reloaded, the running one stays: {}", e.what());
    }
  }

  control::Reply handle(const control::Request& request) {
    using control::Reply;
    if (request.command == "reconfigure") {
      config::Config config;
      try {
        config = config::load_yaml_text(request.payload, "<control>");
        apply(config);
      } catch (const std::exception& e) {
        log::error("reconfigure refused, the running configuration stays: {}", e.what());
        return Reply::failure(e.what());
      }
      log::info("reconfigured: {}", frontend_count(config));
      return Reply::success("configuration applied: " + frontend_count(config));
    }
    if (request.command == "showconfig")
      return Reply::success({}, config::to_yaml(engine_.config()));
    if (request.command == "status")
      return Reply::success({}, status_line() + "\n");
    if (request.command == "weight")
      return set_weight(request.argument);
    config::ServerState state;
    if (request.command == "enable")
      state = config::ServerState::enabled;
    else if (request.command == "disable")
      state = config::ServerState::disabled;
    else if (request.command == "drain")
      state = config::ServerState::drain;
    else
      return Reply::failure("unknown command '" + request.command +
                            "' (reconfigure, showconfig, status, enable, disable, drain, weight)");
    int matched = engine_.set_server_state(request.argument, state);
    if (matched == 0)
      return Reply::failure("no server " + request.argument + " in the running configuration");
    log::info("{} {}: {} server{}", request.command, request.argument, matched,
              matched == 1 ? "" : "s");
    return Reply::success(fmt::format("{} {}: {} server{}", request.command, request.argument,
                                      matched, matched == 1 ? "" : "s"));
  }

  // "HOST:PORT N": the weight of every member with that name or address.
  control::Reply set_weight(const std::string& argument) {
    using control::Reply;
    size_t space = argument.find(' ');
    std::string address = argument.substr(0, space);
    int weight = 0;
    std::string number = space == std::string::npos ? "" : argument.substr(space + 1);
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), weight);
    if (number.empty() || ec != std::errc{} || end != number.data() + number.size() || weight < 1 ||
        weight > 256)
      return Reply::failure("weight: write HOST:PORT and a weight from 1 to 256, not '" + argument +
                            "'");
    int matched = engine_.set_server_weight(address, weight);
    if (matched == 0)
      return Reply::failure("no server " + address + " in the running configuration");
    std::string note =
        fmt::format("weight {} {}: {} server{}", address, weight, matched, matched == 1 ? "" : "s");
    log::info("{}", note);
    return Reply::success(note);
  }

  // `hamba status`: "serving 2 frontends, 5/6 servers up, 3 connections, up 120 s", or
  // "waiting for a configuration ..." for `hamba run` with none yet. Answering at all is what the
  // container health check asks: down servers are the servers' problem, not a reason to restart
  // the balancer in front of them.
  std::string status_line() const {
    control::StatsSnapshot stats = control::collect_stats(engine_, started_ms_);
    int64_t up_s = (stats.now_ms - stats.started_ms) / 1000;
    if (stats.frontends.empty())
      return fmt::format("waiting for a configuration (no frontend; hamba reconfigure), up {} s",
                         up_s);
    size_t servers = 0, servers_up = 0;
    uint64_t connections = 0;
    for (const control::FrontendStats& f : stats.frontends) {
      connections += f.current;
      for (const control::ServerStats& s : f.servers) {
        ++servers;
        servers_up += s.status() == "up";
      }
    }
    return fmt::format("serving {}, {}/{} server{} up, {} connection{}, up {} s",
                       frontend_count(engine_.config()), servers_up, servers,
                       servers == 1 ? "" : "s", connections, connections == 1 ? "" : "s", up_s);
  }

  RunContext& context_;
  engine::Engine& engine_;
  int64_t started_ms_;
  config::Config started_with_; // as read at start, for the watcher's startup check
  control::AdminServer admin_;
  std::unique_ptr<control::ControlServer> control_;
  std::unique_ptr<control::ConfigWatcher> watcher_;
  uvx::Handle<uv_signal_t> sighup_; // only when there is no watcher
  std::unique_ptr<discovery::DockerProvider> docker_;
  std::vector<discovery::Container> containers_; // as last listed
  std::set<std::string> problems_logged_;        // logged once while they last
  std::set<std::string> listen_refused_;         // frontends that could not open, likewise
  uvx::Timer reconcile_timer_;
};

} // namespace

config::Config load_config(const cli::Command& command) {
  if (command.config_files.empty())
    return command.config;
  // Several files: their frontends side by side; global settings from the first file.
  config::Config config;
  for (size_t i = 0; i < command.config_files.size(); ++i) {
    config::Config file = config::load_yaml_file(command.config_files[i]);
    if (i == 0)
      config = std::move(file);
    else
      config.frontends.insert(config.frontends.end(), file.frontends.begin(), file.frontends.end());
  }
  if (command.has_frontend)
    config.frontends.insert(config.frontends.end(), command.config.frontends.begin(),
                            command.config.frontends.end());
  cli::apply_options(command.options, config); // the command line and variables win
  config::load_cidr_files(config);             // the lists' files, read again on each load
  config::validate(config);
  return config;
}

std::unique_ptr<ControlPlane> start_control_plane(RunContext& context) {
  return std::make_unique<ControlPlaneImpl>(context);
}

int run_client_command(const cli::Command& command) {
  control::Request request{action_name(command.action), command.target, {}};
  if (command.action == cli::Action::weight)
    request.argument += " " + std::to_string(command.weight);
  if (command.action == cli::Action::reconfigure)
    request.payload = config::to_yaml(load_config(command)); // invalid: main says why, exit 2
  std::string path = control::socket_path(command.control_path);
  control::Reply reply;
  try {
    reply = control::send_request(path, request);
  } catch (const control::Unreachable& e) {
    std::fprintf(stderr, "hamba: %s\n", e.what());
    return 1;
  }
  if (!reply.ok) {
    std::fprintf(stderr, "hamba: %s refused%s: %s\n", request.command.c_str(),
                 command.action == cli::Action::reconfigure ? ", the running configuration stays"
                                                            : "",
                 reply.message.c_str());
    return 1;
  }
  if (!reply.message.empty())
    std::fprintf(stderr, "hamba: %s\n", reply.message.c_str());
  std::fputs(reply.body.c_str(), stdout);
  return 0;
}

} // namespace hamba::app
