// The web UI's static files, read once at start from a directory into memory (the page, its
// script and style: a few kilobytes), so serving them never touches the disk on the loop.
//
//     webui::StaticFiles files;
//     files.load("/usr/share/dockercoins/webui");   // throws std::runtime_error naming the file
//     if (auto* f = files.find("/index.html")) ... f->content_type, f->body ...
#pragma once

#include <cstddef>
#include <map>
#include <string>

namespace webui {

struct StaticFile {
  std::string content_type;
  std::string body;
};

class StaticFiles {
public:
  // Reads every regular file under dir (recursively), keyed by "/relative/path". Throws when the
  // directory cannot be read or holds more than max_total bytes.
  void load(const std::string& dir, std::size_t max_total = 32 << 20);
  const StaticFile* find(const std::string& path) const;
  std::size_t size() const { return files_.size(); }

  // "text/html; charset=utf-8" etc. from the file name's extension.
  static std::string content_type_for(const std::string& name);

private:
  std::map<std::string, StaticFile> files_;
};

} // namespace webui
