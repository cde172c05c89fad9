// Reload of the configuration files on SIGHUP and file change (see config_watcher.h).
#include "control/config_watcher.h"

#include "base/log.h"

#include <csignal>
#include <optional>
#include <utility>

namespace hamba::control {

// One load on the thread pool. It outlives the watcher if need be: a running work item cannot
// be taken back, so the watcher only detaches from it and the after-work callback frees it.
struct ConfigWatcher::Job {
  ConfigWatcher::Load load; // a copy: the pool thread touches nothing of the watcher
  bool startup_check = false;
  std::optional<config::Config> result;
  std::string error;

  void run() { // on a pool thread
    try {
      result = load();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
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

ConfigWatcher::~ConfigWatcher() = default; // job_ detaches: a load still running is dropped

void ConfigWatcher::changed(const std::string& file) {
  // Wait for the writer to finish (an editor writes, renames, touches) before reading.
  why_ = "change of " + file;
  settle_.start<&ConfigWatcher::settled>(200);
}

void ConfigWatcher::settled() {
  reload(why_);
}

void ConfigWatcher::startup_load() {
  if (!job_.pending())
    start_job(true);
}

void ConfigWatcher::reload(const std::string& why) {
  log::info("reloading configuration from {} ({})",
            files_.empty() ? std::string("nothing") : fmt::format("{}", fmt::join(files_, ", ")),
            why);
  if (job_.pending()) {
    again_ = true;
    return;
  }
  start_job(false);
}

void ConfigWatcher::start_job(bool startup_check) {
  int rc = job_.start<&ConfigWatcher::job_done>(
      this,
      [&](uv_work_t* req, auto work, auto done) { return uv_queue_work(loop_, req, work, done); },
      [&](Job& job) {
        job.load = load_;
        job.startup_check = startup_check;
      });
  if (rc < 0)
    failed_("cannot start loading the configuration: " + uvx::error_text(rc));
}

void ConfigWatcher::job_done(Job& job, int) { // back on the loop
  if (job.result)
    loaded_(std::move(*job.result), job.startup_check);
  else
    failed_(job.error);
  if (std::exchange(again_, false))
    start_job(false);
}

} // namespace hamba::control
