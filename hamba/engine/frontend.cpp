// A frontend's configuration, backends and view; see frontend.h.
#include "engine/frontend.h"

#include "base/log.h"
#include "net/listening_socket.h"

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <unistd.h>

namespace hamba::engine {

namespace {

std::atomic<uint64_t> next_id{1};

std::string describe_at(const config::Frontend& f, const std::string& where) {
  std::string servers;
  for (const config::Server& s : f.servers)
    servers += (servers.empty() ? "" : ", ") + config::format_endpoint(s.address) +
               (s.backup ? " (backup)" : "");
  return fmt::format("{} ({}): {}", where, config::balance_name(f.balance), servers);
}

void update_routes(uv_loop_t* loop, const config::Frontend& f,
                   std::vector<std::shared_ptr<Route>>& routes, bool started,
                   const balance::Backend::OnAvailable& on_available) {
  std::vector<std::shared_ptr<Route>> next;
  for (const config::Route& r : f.routes) {
    auto it = std::find_if(routes.begin(), routes.end(),
                           [&](const auto& old) { return old->config.name == r.name; });
    if (it != routes.end()) {
      (*it)->config = r;
      (*it)->backend.update(backend_view(f, r));
      next.push_back(std::move(*it));
      routes.erase(it);
      continue;
    }
    next.push_back(std::make_shared<Route>(loop, f, r, on_available));
    if (started)
      next.back()->backend.start();
  }
  for (auto& removed : routes) // workers' sessions may still hold its servers; no new ones come
    removed->backend.stop();
  routes = std::move(next);
}

} // namespace

config::Frontend backend_view(const config::Frontend& frontend, const config::Route& route) {
  config::Frontend view = frontend;
  view.servers = route.servers;
  view.send_proxy = route.send_proxy;
  if (route.server_tls)
    view.server_tls = route.server_tls;
  view.routes.clear();
  return view;
}

Route::Route(uv_loop_t* loop, const config::Frontend& frontend, const config::Route& route,
             balance::Backend::OnAvailable on_available)
    : config(route), backend(loop, backend_view(frontend, route), std::move(on_available)) {}

int FrontendView::route_for(std::string_view server_name) const {
  if (server_name.empty())
    return -1;
  for (bool wildcards : {false, true})
    for (size_t i = 0; i < routes.size(); ++i)
      for (const std::string& pattern : routes[i].config.sni)
        if ((pattern.starts_with("*.") == wildcards) && config::sni_matches(pattern, server_name))
          return static_cast<int>(i);
  return -1;
}

std::shared_ptr<const net::TlsServerContext> build_tls(const config::Frontend& f) {
  if (!f.tls)
    return nullptr;
  net::TlsServerOptions options;
  for (const config::TlsCertificate& c : f.tls->certs)
    options.certs.push_back({c.cert, c.key});
  options.alpn = f.tls->alpn;
  options.tls13_only = f.tls->min_version == "1.3";
  options.client_ca = f.tls->client_ca;
  try {
    return net::TlsServerContext::build(options);
  } catch (const net::TlsError& e) {
    throw config::ConfigError(fmt::format("frontend \"{}\": {}", f.name, e.what()));
  }
}

std::shared_ptr<const net::TlsClientContext> build_server_tls(const config::Frontend& f) {
  if (!f.server_tls)
    return nullptr;
  try {
    return net::TlsClientContext::build(
        {f.server_tls->verify, f.server_tls->sni, f.server_tls->cert, f.server_tls->key});
  } catch (const net::TlsError& e) {
    throw config::ConfigError(fmt::format("frontend \"{}\": {}", f.name, e.what()));
  }
}

std::vector<std::shared_ptr<const net::TlsClientContext>>
build_route_server_tls(const config::Frontend& f) {
  std::vector<std::shared_ptr<const net::TlsClientContext>> out;
  for (const config::Route& r : f.routes)
    out.push_back(r.server_tls ? build_server_tls(backend_view(f, r)) : nullptr);
  return out;
}

std::string describe(const config::Frontend& f) {
  // An empty host is every address; which socket that took ([::] or 0.0.0.0) is logged when
  // the frontend starts listening.
  return describe_at(f, f.bind.host.empty() ? fmt::format("*:{}", f.bind.port)
                                            : config::format_endpoint(f.bind));
}

Frontend::Frontend(uv_loop_t* loop, const config::Frontend& config,
                   balance::Backend::OnAvailable on_change)
    : loop_(loop), id_(next_id++), config_(config), on_change_(std::move(on_change)),
      backend_(loop, config, [this](balance::Urgency u) { changed(u); }) {
  update_routes(loop_, config_, routes_, false, [this](balance::Urgency u) { changed(u); });
  update_sources();
}

void Frontend::update_sources() {
  const config::PerSource& p = config_.per_source;
  if (!p.enabled()) {
    sources_.reset(); // connections still counted in it hold it until they end
    return;
  }
  // The counts carry over a reconfigure that keeps the table's shape (new limits apply to
  // them at once); a new size or IPv6 grouping starts a new table.
  if (sources_ && sources_->slots() == SourceTable::slots_for(static_cast<size_t>(p.table_size)) &&
      sources_->ipv6_prefix() == static_cast<unsigned>(p.ipv6_prefix))
    return;
  sources_ = std::make_shared<SourceTable>(static_cast<size_t>(p.table_size),
                                           static_cast<unsigned>(p.ipv6_prefix));
}

Frontend::~Frontend() = default;

std::vector<int> Frontend::start(size_t copies, Accept accept) {
  std::vector<int> fds;
  auto take = [&](const net::ListeningSocket& listener) {
    int copy = ::fcntl(listener.fd(), F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      int rc = -errno;
      for (int c : fds)
        ::close(c);
      throw net::ListenError(fmt::format("cannot listen on {}: dup: {}",
                                         config::format_endpoint(listener.bound()),
                                         uvx::error_text(rc)),
                             rc);
    }
    fds.push_back(copy);
  };
  config::Endpoint bound;
  {
    // A plain bind first, even for SO_REUSEPORT sockets: an address another process holds is
    // refused rather than silently shared with it. One worker, or `shared`: this is the socket.
    net::ListeningSocket first(loop_, config_.bind);
    bound = first.bound();
    if (copies <= 1 || accept == Accept::shared)
      for (size_t i = 0; i < copies; ++i)
        take(first);
  } // the main loop's own handles close: the sockets live on in the workers' copies
  if (copies > 1 && accept == Accept::reuseport)
    try {
      for (size_t i = 0; i < copies; ++i) {
        net::ListeningSocket l(loop_, config_.bind, true);
        take(l);
      }
    } catch (...) {
      for (int c : fds)
        ::close(c);
      throw;
    }
  log::info("frontend {}: listening on {}", config_.name,
            describe_at(config_, config::format_endpoint(bound)));
  backend_.start();
  for (auto& r : routes_)
    r->backend.start();
  return fds;
}

void Frontend::update(const config::Frontend& config) {
  config_ = config;
  backend_.update(config);
  update_routes(loop_, config_, routes_, true, [this](balance::Urgency u) { changed(u); });
  for (size_t i = 0; i < routes_.size(); ++i) // a route just added too
    routes_[i]->backend.set_server_tls(route_server_tls(i));
  update_sources();
  changed();
}

void Frontend::set_tls(TlsContexts tls) {
  tls_ = std::move(tls);
  backend_.set_server_tls(tls_.servers);
  for (size_t i = 0; i < routes_.size(); ++i)
    routes_[i]->backend.set_server_tls(route_server_tls(i));
  view_.reset();
}

std::shared_ptr<const net::TlsClientContext> Frontend::route_server_tls(size_t i) const {
  return i < tls_.routes.size() && tls_.routes[i] ? tls_.routes[i] : tls_.servers;
}

void Frontend::set_ticket_keys(std::shared_ptr<const net::TicketKeySet> keys) {
  tls_.ticket_keys = std::move(keys);
  view_.reset();
}

void Frontend::retire() {
  backend_.stop();
  for (auto& r : routes_)
    r->backend.stop();
}

void Frontend::changed(balance::Urgency urgency) {
  view_.reset();
  if (on_change_)
    on_change_(urgency);
}

FrontendViewPtr Frontend::view() {
  if (view_)
    return view_;
  auto v = std::make_shared<FrontendView>();
  v->config = config_;
  v->tls = tls_.clients;
  v->server_tls = tls_.servers;
  if (tls_.clients)
    v->ticket_keys = tls_.ticket_keys;
  v->refusal_log = refusal_log_;
  v->sources = sources_;
  std::shared_ptr<Frontend> self = shared_from_this();
  v->pool = backend_.snapshot(std::shared_ptr<balance::Backend>(self, &backend_));
  for (size_t i = 0; i < routes_.size(); ++i) {
    auto& r = routes_[i];
    v->routes.push_back({r->config,
                         r->backend.snapshot(std::shared_ptr<balance::Backend>(r, &r->backend)),
                         route_server_tls(i)});
  }
  view_ = std::move(v);
  return view_;
}

} // namespace hamba::engine
