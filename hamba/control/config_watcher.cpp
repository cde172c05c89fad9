// Reload of the configuration files on SIGHUP and file change (see config_watcher.h).
#include "control/config_watcher.h"

#include "base/log.h"

#include <csignal>
#include <optional>
#include <utility>

namespace hamba::control {

// One load on the thread pool. It outlives the watcher if need be: a queued or running work
// item cannot be taken back, so the watcher only forgets it (owner = nullptr) and the after-work
// callback frees it.
struct ConfigWatcher::Job {
  uv_work_t work{};
  ConfigWatcher* owner;
  ConfigWatcher::Load load; // a copy: the pool thread touches nothing of the watcher
  bool startup_check;
  std::optional<config::Config> result;
  std::string error;
};

ConfigWatcher::ConfigWatcher(uv_loop_t* loop, std::vector<std::string> files, Load load,
                             Loaded loaded, Failed failed, std::chrono::milliseconds poll_interval)
    : loop_(loop), files_(std::move(files)), load_(std::move(load)), loaded_(std::move(loaded)),
      failed_(std::move(failed)) {
  uvx::check(sighup_.init([&](uv_signal_t* s) { return uv_signal_init(loop_, s); }), "SIGHUP");
  sighup_.set_data(this);
  uvx::check(uv_signal_start(
                 sighup_.get(),
                 [](uv_signal_t* s, int) {
                   uvx::Handle<uv_signal_t>::owner<ConfigWatcher>(s)->reload("SIGHUP");
                 },
                 SIGHUP),
             "SIGHUP");
  settle_.init(loop_, this);
  startup_.init(loop_, this);
  // By then every poller has its first stat: later changes are seen by them.
  startup_.start<&ConfigWatcher::startup_load>(
      static_cast<uint64_t>(2 * poll_interval.count() + 100));
  for (const std::string& file : files_) {
    auto poll = std::make_unique<uvx::Handle<uv_fs_poll_t>>();
    uvx::check(poll->init([&](uv_fs_poll_t* p) { return uv_fs_poll_init(loop_, p); }),
               "file watch");
    poll->set_data(this);
    uvx::check(uv_fs_poll_start(
                   poll->get(),
                   [](uv_fs_poll_t* p, int, const uv_stat_t*, const uv_stat_t*) {
                     char path[4096];
                     size_t size = sizeof(path);
                     std::string name = uv_fs_poll_getpath(p, path, &size) == 0 ? path : "";
                     uvx::Handle<uv_fs_poll_t>::owner<ConfigWatcher>(p)->changed(name);
                   },
                   file.c_str(), static_cast<unsigned>(poll_interval.count())),
               "file watch");
    polls_.push_back(std::move(poll));
  }
}

ConfigWatcher::~ConfigWatcher() {
  if (running_)
    running_->owner = nullptr;
}

void ConfigWatcher::changed(const std::string& file) {
  // Wait for the writer to finish (an editor writes, renames, touches) before reading.
  why_ = "change of " + file;
  settle_.start<&ConfigWatcher::settled>(200);
}

void ConfigWatcher::settled() {
  reload(why_);
}

void ConfigWatcher::startup_load() {
  if (!running_)
    start_job(true);
}

void ConfigWatcher::reload(const std::string& why) {
  log::info("reloading configuration from {} ({})",
            files_.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(files_, ", ")),
            why);
  if (running_) {
    again_ = true;
    return;
  }
  start_job(false);
}

void ConfigWatcher::start_job(bool startup_check) {
  auto* job = new Job{{}, this, load_, startup_check, std::nullopt, {}};
  job->work.data = job;
  int rc = uv_queue_work(
      loop_, &job->work,
      [](uv_work_t* w) { // on a pool thread
        auto* j = static_cast<Job*>(w->data);
        try {
          j->result = j->load();
        } catch (const std::exception& e) {
          j->error = e.what();
        }
      },
      [](uv_work_t* w, int) { // back on the loop
        auto* j = static_cast<Job*>(w->data);
        if (j->owner)
          j->owner->job_done(j);
        delete j;
      });
  if (rc < 0) {
    delete job;
    failed_("cannot start loading the configuration: " + uvx::error_text(rc));
    return;
  }
  running_ = job;
}

void ConfigWatcher::job_done(Job* job) {
  running_ = nullptr;
  if (job->result)
    loaded_(std::move(*job->result), job->startup_check);
  else
    failed_(job->error);
  if (std::exchange(again_, false))
    start_job(false);
}

} // namespace hamba::control
