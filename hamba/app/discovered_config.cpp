// Configured and discovered frontends merged, and the changes between two discoveries (see
// discovered_config.h).
#include "app/discovered_config.h"

#include <algorithm>
#include <fmt/format.h>

namespace hamba::app {

namespace {

bool is_discovered(const config::Frontend& f) {
  return !f.provider.empty();
}

const config::Frontend* same_port(const std::vector<config::Frontend>& list,
                                  const config::Frontend& f) {
  auto it = std::find_if(list.begin(), list.end(),
                         [&](const config::Frontend& o) { return o.bind.port == f.bind.port; });
  return it == list.end() ? nullptr : &*it;
}

// Every server of a frontend, its routes' included.
template <typename Visit> void each_server(const config::Frontend& f, Visit visit) {
  for (const config::Server& s : f.servers)
    visit(s);
  for (const config::Route& r : f.routes)
    for (const config::Server& s : r.servers)
      visit(s);
}

template <typename Visit> void each_server(config::Frontend& f, Visit visit) {
  for (config::Server& s : f.servers)
    visit(s);
  for (config::Route& r : f.routes)
    for (config::Server& s : r.servers)
      visit(s);
}

std::string server_text(const config::Server& s) {
  return fmt::format("{} ({})", s.name.empty() ? "?" : s.name, config::format_endpoint(s.address));
}

bool has_server(const config::Frontend& f, const config::Server& s) {
  bool found = false;
  each_server(f, [&](const config::Server& o) {
    found = found || (o.address == s.address && o.name == s.name);
  });
  return found;
}

} // namespace

config::Config configured_part(const config::Config& config) {
  config::Config out = config;
  std::erase_if(out.frontends, is_discovered);
  return out;
}

std::vector<config::Frontend> discovered_part(const config::Config& config) {
  std::vector<config::Frontend> out;
  std::copy_if(config.frontends.begin(), config.frontends.end(), std::back_inserter(out),
               is_discovered);
  return out;
}

config::Config with_discovered(config::Config configured, std::vector<config::Frontend> discovered,
                               const config::Config& running) {
  std::vector<config::Frontend> before = discovered_part(running);
  for (config::Frontend& f : discovered) {
    if (const config::Frontend* old = same_port(before, f))
      each_server(f, [&](config::Server& s) {
        each_server(*old, [&](const config::Server& o) {
          if (o.address == s.address)
            s.state = o.state;
        });
      });
    configured.frontends.push_back(std::move(f));
  }
  return configured;
}

std::vector<std::string> discovered_changes(const std::vector<config::Frontend>& before,
                                            const std::vector<config::Frontend>& after) {
  std::vector<std::string> lines;
  for (const config::Frontend& f : after) {
    const config::Frontend* old = same_port(before, f);
    if (!old) {
      std::string names;
      each_server(f, [&](const config::Server& s) {
        names += (names.empty() ? "" : ", ") + server_text(s);
      });
      lines.push_back(fmt::format("frontend {} opened on {} for {}", f.name,
                                  config::format_endpoint(f.bind), names));
      continue;
    }
    each_server(f, [&](const config::Server& s) {
      if (!has_server(*old, s))
        lines.push_back(fmt::format("{} joins frontend {}", server_text(s), f.name));
    });
    each_server(*old, [&](const config::Server& s) {
      if (!has_server(f, s))
        lines.push_back(fmt::format("{} leaves frontend {}", server_text(s), f.name));
    });
  }
  for (const config::Frontend& f : before)
    if (!same_port(after, f))
      lines.push_back(fmt::format("frontend {} on {} closes: no container is labelled for it",
                                  f.name, config::format_endpoint(f.bind)));
  return lines;
}

} // namespace hamba::app
