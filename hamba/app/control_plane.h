// The control plane of a running hamba, on the main loop: the control socket and the client
// commands that talk to it, the --config files and their reloads, the admin endpoints and the
// connection log. app/run.cpp starts it once the first configuration is applied;
// app/control_plane.cpp implements it.
#pragma once

#include "cli/command.h"
#include "config/config.h"
#include "engine/engine.h"

#include <memory>

namespace hamba::app {

// What a running hamba gives its control plane.
struct RunContext {
  uv_loop_t* loop;
  engine::Engine& engine;
  const cli::Command& command;
};

// Kept alive while hamba serves (control server, admin HTTP server, file watcher...); destroyed
// when the shutdown begins, so its handles close and the loop can end.
class ControlPlane {
public:
  virtual ~ControlPlane() = default;
};

// The configuration `command` means: its words, or its --config files with the options on top.
// Throws config::ConfigError.
config::Config load_config(const cli::Command& command);

// Started after the initial configuration is applied. Throws when a socket cannot be opened.
std::unique_ptr<ControlPlane> start_control_plane(RunContext& context);

// reconfigure, showconfig, enable, disable, drain: talk to the running instance. Returns the
// exit status.
int run_client_command(const cli::Command& command);

} // namespace hamba::app
