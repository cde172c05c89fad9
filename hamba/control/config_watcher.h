// Reloads the --config file(s) on SIGHUP and when a file changes, without blocking the loop.
//
//     ConfigWatcher watcher(loop, {"hamba.yaml"},
//                           [files] { return load_files(files); },        // thread pool
//                           [&](Config c) { engine.apply(c); },           // loop thread
//                           [&](const std::string& e) { log::error(...); });
//
// Changes are noticed by polling each file's stat (uv_fs_poll) rather than inotify events,
// because editors and `kubectl`/compose mounts replace files by rename, which an inotify watch
// on the old inode never sees. A burst of changes is settled for a moment and then loaded once;
// the loading (file reads and parsing) runs on libuv's thread pool. A file that fails to load is
// reported through on_error and the running configuration stays.
//
// A change made while hamba was starting (after it read the file, before the first stat) would
// go unseen, so the files are also loaded once shortly after the start: `loaded` is then called
// with `startup_check` true, and the owner applies the result only if it differs from what it
// read at start.
#pragma once

#include "base/uv_handle.h"
#include "base/uv_request.h"
#include "config/config.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace hamba::control {

class ConfigWatcher {
public:
  using Load = std::function<config::Config()>; // runs on a pool thread; throws on failure
  using Loaded = std::function<void(config::Config, bool startup_check)>;
  using Failed = std::function<void(const std::string& reason)>;

  // Starts watching at once; `poll_interval` is how often files are stat-ed.
  ConfigWatcher(uv_loop_t* loop, std::vector<std::string> files, Load load, Loaded loaded,
                Failed failed,
                std::chrono::milliseconds poll_interval = std::chrono::milliseconds(500));
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Loads now (what SIGHUP does); `why` goes into the log line.
  void reload(const std::string& why);

private:
  struct Job;
  void changed(const std::string& file);
  void settled();      // the settle_ wait after a change is over: reload
  void startup_load(); // startup_'s one load
  void start_job(bool startup_check);
  void job_done(Job& job, int status);

  uv_loop_t* loop_;
  std::vector<std::string> files_;
  Load load_;
  Loaded loaded_;
  Failed failed_;
  uvx::Handle<uv_signal_t> sighup_;
  std::vector<std::unique_ptr<uvx::Handle<uv_fs_poll_t>>> polls_;
  uvx::Timer settle_;                 // coalesces a burst of file events into one reload
  uvx::Timer startup_;                // the one load shortly after the start
  uvx::Requests<uv_work_t, Job> job_; // the load on the thread pool, if any
  bool again_ = false;                // something changed while it ran: load once more after
  std::string why_;
};

} // namespace hamba::control
