// The Docker provider: follows the running containers of one Docker engine through its Engine
// API, on the main loop, and hands the control plane every new list of them (labels.h turns a
// list into frontends). On a Swarm manager the running tasks of services with hamba.* labels
// are in the list too, as containers (swarm.h).
//
//     DockerProvider docker(loop, config.docker.value(),
//                           [](std::vector<Container> running) { ... reconcile ... });
//
// It opens the event stream first (GET /events, filtered to container start, kill, die and
// health_status, and to service create, update and remove), and once the daemon has answered it
// lists the running containers (GET /containers/json): no change can fall between the two. Each
// event then asks for a new list, a few milliseconds later (a burst of events costs one list).
// The list is not filtered by label on the daemon's side: a filter names one exact key, and
// hamba.0.frontend is as good as hamba.frontend.
//
// A list is also GET /services and, when a service has hamba.* labels, GET /tasks. A daemon
// that is no Swarm manager answers 503 to /services: then there are only containers, and a
// task's container is one like any other. On a manager the tasks' containers come through their
// services instead (not twice). Swarm says nothing on the stream when a task it started is up,
// or when a task on another node ends, so while a labelled service converges (swarm.h) the
// lists are asked for every kConvergingPollMs, and otherwise every kSwarmPollMs.
//
// The daemon may still list a container as running (or with its old health) just after its
// die (or health_status) event: the events are the truth, so what they said about a container
// overrides the list until its next start. A container leaves at the kill event that stopping
// it begins with (docker stop's SIGTERM), so it gets no new connection while it shuts down; a
// kill with SIGHUP, SIGUSR1 or SIGUSR2 is not a stop. Such events are acted on at once, from
// the last list, before the new list comes. (A stop signal the container
// ignores keeps it out until its next start.)
//
// When the stream breaks or a list fails (dockerd restarting, the socket gone), the last list
// stands: nothing is reported until a new list comes, after reconnecting with backoff (250 ms,
// doubling up to 5 s). The first failure of an outage is logged in one line, and the reconnect
// in another; failures in between are not.
#pragma once

#include "base/uv_handle.h"
#include "config/config.h"
#include "discovery/engine_api.h"
#include "discovery/engine_request.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace hamba::discovery {

class DockerProvider {
public:
  using OnContainers = std::function<void(std::vector<Container>)>;

  // Starts at once. `on_containers` runs on the loop, never from inside the constructor.
  DockerProvider(uv_loop_t* loop, config::Docker settings, OnContainers on_containers);
  ~DockerProvider();
  DockerProvider(const DockerProvider&) = delete;
  DockerProvider& operator=(const DockerProvider&) = delete;

  const config::Docker& settings() const { return settings_; }

  static constexpr uint64_t kFirstRetryMs = 250;
  static constexpr uint64_t kMaxRetryMs = 5000;
  static constexpr uint64_t kRelistDelayMs = 20; // events in a burst share one list
  static constexpr uint64_t kConvergingPollMs = 500;
  static constexpr uint64_t kSwarmPollMs = 5000;

private:
  void connect();
  void on_event_line(std::string_view line);
  void on_events_done(EngineRequest::Result result);
  void list();
  void on_listed(EngineRequest::Result result);
  void on_services(EngineRequest::Result result);
  void on_tasks(EngineRequest::Result result);
  // The containers (and the tasks, as containers) of one list are all in: report them.
  void listed(std::vector<Container> running);
  void on_poll_timer();
  void list_soon();
  void on_list_timer();
  void broken(const std::string& why);
  void on_retry_timer();
  // Requests end from inside their own callbacks: they are kept here and freed on a later turn.
  void retire(std::unique_ptr<EngineRequest>& request);
  void on_reap_timer();

  // What the events said about a container since its last start.
  struct Heard {
    bool died = false;
    std::optional<Health> health;
  };
  // Notes what `e` says; true when that changes whether or how a container is served.
  bool heard(const Event& e);
  // `listed` as the events since have it.
  void correct(std::vector<Container>& listed) const;
  // A container stops or changes health: the last list, corrected, goes out on the next turn
  // (the new list follows): new connections leave a stopping container at once.
  void report_soon();
  void on_report_timer();

  uv_loop_t* loop_;
  config::Docker settings_;
  std::map<std::string, Heard> heard_; // by container ID
  std::vector<Container> last_;        // as last listed
  std::vector<Container> listing_;     // the containers of a list whose services are asked for
  std::vector<Service> services_;      // the labelled services of that list
  bool swarm_ = false;                 // the last list had labelled services
  uvx::Timer poll_timer_;
  uvx::Timer reap_timer_; // frees retired_ on the turn after
  uvx::Timer report_timer_;
  bool report_armed_ = false;
  OnContainers on_containers_;
  std::unique_ptr<EngineRequest> events_;
  std::unique_ptr<EngineRequest> list_;
  std::vector<std::unique_ptr<EngineRequest>> retired_;
  uvx::Timer list_timer_;
  uvx::Timer retry_timer_;
  bool list_armed_ = false;
  bool list_again_ = false; // an event came while a list was in flight
  bool in_outage_ = false;  // a failure was logged; the next good list logs the reconnect
  bool ever_listed_ = false;
  uint64_t retry_ms_ = kFirstRetryMs;
};

} // namespace hamba::discovery
