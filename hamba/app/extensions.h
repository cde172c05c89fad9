// Where the run-time features (control socket, YAML files, stats) plug into the core.
//
// The core calls these; hamba/app/control_entry.cpp implements them.
#pragma once

#include "cli/command.h"
#include "config/config.h"
#include "engine/engine.h"

#include <memory>

namespace hamba::app {

// What a running hamba gives its extensions.
struct RunContext {
  uv_loop_t* loop;
  engine::Engine& engine;
  const cli::Command& command;
};

// Something kept alive while hamba runs (control server, admin HTTP server, file watcher...).
// Destroyed when the shutdown begins, so its handles close and the loop can end.
class Extension {
public:
  virtual ~Extension() = default;
};

// The configuration `command` means: its words, or its --config files with the options on top.
// Throws config::ConfigError.
config::Config load_config(const cli::Command& command);

// Started after the initial configuration is applied; may return nullptr.
std::unique_ptr<Extension> start_extensions(RunContext& context);

// reconfigure, showconfig, enable, disable, drain: talk to the running instance. Returns the
// exit status.
int run_client_command(const cli::Command& command);

} // namespace hamba::app
