// The configuration hamba runs: the configured frontends (command line, files, reconfigure)
// and those discovered from Docker labels (discovery/labels.h), side by side. Pure functions
// over configurations, so the merge and its log lines are unit tests.
//
//     config::Config run = with_discovered(configured_part(engine.config()), discovered,
//                                          engine.config());
//     for (auto& line : discovered_changes(before, after)) log::info("docker: {}", line);
#pragma once

#include "config/config.h"

#include <string>
#include <vector>

namespace hamba::app {

// `config` without its discovered frontends (provider "docker"): what was configured, with
// the admin states set since.
config::Config configured_part(const config::Config& config);
// The discovered frontends of `config`.
std::vector<config::Frontend> discovered_part(const config::Config& config);

// `configured` with `discovered` after its frontends. A server `running` (the configuration in
// use) has drained or disabled stays so: `hamba drain` holds over a container's next event.
config::Config with_discovered(config::Config configured, std::vector<config::Frontend> discovered,
                               const config::Config& running);

// One line per change from `before` to `after`: a frontend opened or closed, a server (by its
// container's name) joining or leaving.
std::vector<std::string> discovered_changes(const std::vector<config::Frontend>& before,
                                            const std::vector<config::Frontend>& after);

} // namespace hamba::app
