// The event stream, the lists it triggers, and reconnecting (see docker_provider.h).
#include "discovery/docker_provider.h"

#include "base/log.h"
#include "discovery/swarm.h"

#include <algorithm>

namespace hamba::discovery {

namespace {

// filters={"type":["container","service"],"event":["start","kill","die","health_status",
// "create","update","remove"]}, URL-encoded: the keys are and-ed, so a container's create and
// update come too (and cost a list). The daemon matches "health_status" with every
// "health_status: healthy|unhealthy|starting".
constexpr const char* kEventsTarget =
    "/events?filters=%7B%22type%22%3A%5B%22container%22%2C%22service%22%5D%2C%22event%22%3A%5B"
    "%22start%22%2C%22kill%22%2C%22die%22%2C%22health_status%22%2C%22create%22%2C%22update%22%2C"
    "%22remove%22%5D%7D";

// A kill that asks the container to stop (docker stop's SIGTERM, its SIGKILL, httpd's
// SIGWINCH), not one that asks it to reload or reopen its logs.
bool stopping_signal(const std::string& signal) {
  return signal != "1" && signal != "10" && signal != "12"; // SIGHUP, SIGUSR1, SIGUSR2
}
// filters={"status":["running"]}
constexpr const char* kListTarget =
    "/containers/json?filters=%7B%22status%22%3A%5B%22running%22%5D%7D";
constexpr const char* kServicesTarget = "/services";
// filters={"desired-state":["running"]}
constexpr const char* kTasksTarget =
    "/tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%7D";
// Labels Swarm puts on a task's container.
constexpr const char* kTaskLabel = "com.docker.swarm.task.id";

} // namespace

DockerProvider::DockerProvider(uv_loop_t* loop, config::Docker settings, OnContainers on_containers)
    : loop_(loop), settings_(std::move(settings)), on_containers_(std::move(on_containers)) {
  list_timer_.init(loop_, this);
  retry_timer_.init(loop_, this);
  report_timer_.init(loop_, this);
  poll_timer_.init(loop_, this);
  reap_timer_.init(loop_, this);
  connect();
}

DockerProvider::~DockerProvider() {
  events_.reset();
  list_.reset();
  retired_.clear();
}

void DockerProvider::retire(std::unique_ptr<EngineRequest>& request) {
  if (!request)
    return;
  request->cancel();
  retired_.push_back(std::move(request));
  reap_timer_.start<&DockerProvider::on_reap_timer>(0);
}

void DockerProvider::on_reap_timer() {
  retired_.clear();
}

void DockerProvider::connect() {
  retired_.clear(); // a later turn than the callbacks that retired them
  heard_.clear();   // a new stream: the next list is the whole truth (nearly: see the header)
  list_again_ = false;
  events_ = std::make_unique<EngineRequest>(
      loop_, settings_.socket, kEventsTarget,
      EngineRequest::Stream{[this] { list(); },
                            [this](std::string_view line) { on_event_line(line); }},
      [this](EngineRequest::Result r) { on_events_done(std::move(r)); });
}

void DockerProvider::on_event_line(std::string_view line) {
  try {
    std::optional<Event> e = parse_event(line);
    if (!e || (e->type != "container" && e->type != "service"))
      return;
    if (e->type == "container" && heard(*e))
      report_soon();
  } catch (const ApiError& e) {
    log::warn("docker: an event not understood ({}): listing the containers again", e.what());
  }
  list_soon();
}

bool DockerProvider::heard(const Event& e) {
  if (e.id.empty())
    return false;
  if (e.action == "start") {
    heard_.erase(e.id);
    return false; // its address and ports come with the list
  }
  Heard before = heard_.count(e.id) ? heard_[e.id] : Heard{};
  if (e.action == "die" || (e.action == "kill" && stopping_signal(e.signal))) {
    // At docker stop's signal, not only at the exit: the server shuts down from then on, and
    // new connections must go elsewhere while it finishes the ones it has.
    heard_[e.id].died = true;
  } else if (e.action.starts_with("health_status")) {
    // "health_status: healthy"; the words are the list's too ("(healthy)").
    std::string_view word = std::string_view(e.action).substr(e.action.find(':') + 1);
    while (word.starts_with(' '))
      word.remove_prefix(1);
    Health h = health_from_status("(" + std::string(word) + ")");
    if (word == "starting")
      h = Health::starting;
    if (h != Health::none)
      heard_[e.id].health = h;
  }
  auto it = heard_.find(e.id);
  return it != heard_.end() &&
         (it->second.died != before.died || it->second.health != before.health);
}

void DockerProvider::report_soon() {
  if (report_armed_)
    return;
  report_armed_ = true;
  report_timer_.start<&DockerProvider::on_report_timer>(0);
}

void DockerProvider::on_report_timer() {
  report_armed_ = false;
  if (!events_ || !ever_listed_)
    return;
  std::vector<Container> corrected = last_;
  correct(corrected);
  on_containers_(std::move(corrected));
}

void DockerProvider::correct(std::vector<Container>& listed) const {
  std::erase_if(listed, [&](Container& c) {
    auto it = heard_.find(c.id);
    if (it == heard_.end())
      return false;
    if (it->second.health)
      c.health = *it->second.health;
    return it->second.died;
  });
}

void DockerProvider::on_events_done(EngineRequest::Result result) {
  retire(events_);
  broken(result.error.empty() ? "the event stream ended" : result.error);
}

void DockerProvider::list_soon() {
  if (list_armed_)
    return;
  list_armed_ = true;
  list_timer_.start<&DockerProvider::on_list_timer>(kRelistDelayMs);
}

void DockerProvider::on_list_timer() {
  list_armed_ = false;
  if (!events_)
    return; // reconnecting: the reconnect lists
  if (list_) {
    list_again_ = true;
    return;
  }
  list();
}

void DockerProvider::list() {
  retire(list_);
  list_ =
      std::make_unique<EngineRequest>(loop_, settings_.socket, kListTarget, EngineRequest::Stream{},
                                      [this](EngineRequest::Result r) { on_listed(std::move(r)); });
}

void DockerProvider::on_listed(EngineRequest::Result result) {
  retire(list_);
  if (!result.error.empty()) {
    broken(result.error);
    return;
  }
  try {
    listing_ = parse_container_list(result.body);
  } catch (const ApiError& e) {
    broken(e.what());
    return;
  }
  if (!events_)
    return; // the stream broke while the list was on its way: the reconnect lists again
  list_ = std::make_unique<EngineRequest>(
      loop_, settings_.socket, kServicesTarget, EngineRequest::Stream{},
      [this](EngineRequest::Result r) { on_services(std::move(r)); });
}

void DockerProvider::on_services(EngineRequest::Result result) {
  retire(list_);
  if (result.status == 503 || result.status == 404) {
    // No Swarm manager ("This node is not a swarm manager"): containers only.
    services_.clear();
    listed(std::move(listing_));
    return;
  }
  if (!result.error.empty()) {
    broken(result.error);
    return;
  }
  try {
    services_ = parse_service_list(result.body);
  } catch (const ApiError& e) {
    broken(e.what());
    return;
  }
  // A manager: a task's container comes through its service.
  std::erase_if(listing_, [](const Container& c) { return c.labels.count(kTaskLabel) > 0; });
  std::erase_if(services_, [](const Service& s) { return !has_hamba_label(s.labels); });
  if (services_.empty() || !events_) {
    listed(std::move(listing_));
    return;
  }
  list_ = std::make_unique<EngineRequest>(
      loop_, settings_.socket, kTasksTarget, EngineRequest::Stream{},
      [this](EngineRequest::Result r) { on_tasks(std::move(r)); });
}

void DockerProvider::on_tasks(EngineRequest::Result result) {
  retire(list_);
  if (!result.error.empty()) {
    broken(result.error);
    return;
  }
  std::vector<Task> tasks;
  try {
    tasks = parse_task_list(result.body);
  } catch (const ApiError& e) {
    broken(e.what());
    return;
  }
  std::vector<Container> running = std::move(listing_);
  for (Container& c : task_containers(services_, tasks))
    running.push_back(std::move(c));
  bool moving = converging(services_, tasks);
  listed(std::move(running));
  if (events_)
    poll_timer_.start<&DockerProvider::on_poll_timer>(moving ? kConvergingPollMs : kSwarmPollMs);
}

void DockerProvider::on_poll_timer() {
  list_soon();
}

void DockerProvider::listed(std::vector<Container> running) {
  listing_.clear();
  if (!events_)
    return;
  poll_timer_.stop(); // on_tasks starts it again while there are labelled services
  // Containers gone from the list are forgotten.
  std::erase_if(heard_, [&](const auto& h) {
    return std::none_of(running.begin(), running.end(),
                        [&](const Container& c) { return c.id == h.first; });
  });
  last_ = running;
  correct(running);
  size_t labelled =
      static_cast<size_t>(std::count_if(running.begin(), running.end(), [](const Container& c) {
        return has_hamba_label(c.labels);
      }));
  bool swarm = !services_.empty();
  if (in_outage_ || !ever_listed_ || swarm != swarm_)
    log::info("docker: following {}{}: {} running container{}, {} with hamba.* labels{}",
              settings_.socket, in_outage_ ? " again" : "", running.size(),
              running.size() == 1 ? "" : "s", labelled,
              swarm ? fmt::format(" (the tasks of {} Swarm service{} among them)", services_.size(),
                                  services_.size() == 1 ? "" : "s")
                    : "");
  swarm_ = swarm;
  in_outage_ = false;
  ever_listed_ = true;
  retry_ms_ = kFirstRetryMs;
  on_containers_(std::move(running));
  if (std::exchange(list_again_, false))
    list_soon();
}

void DockerProvider::broken(const std::string& why) {
  retire(events_);
  retire(list_);
  list_timer_.stop();
  poll_timer_.stop();
  list_armed_ = false;
  if (!in_outage_)
    log::warn("docker: {}; {}, retrying every {} s at most", why,
              ever_listed_ ? "the containers last listed stay served"
                           : "serving the configured frontends meanwhile",
              kMaxRetryMs / 1000);
  in_outage_ = true;
  retry_timer_.start<&DockerProvider::on_retry_timer>(retry_ms_);
  retry_ms_ = std::min(retry_ms_ * 2, kMaxRetryMs);
}

void DockerProvider::on_retry_timer() {
  connect();
}

} // namespace hamba::discovery
