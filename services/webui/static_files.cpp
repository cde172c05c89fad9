// Loading and lookup of the web UI's static files (see static_files.h).
#include "webui/static_files.h"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace webui {

namespace fs = std::filesystem;

void StaticFiles::load(const std::string& dir, std::size_t max_total) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw std::runtime_error(fmt::format("--files: '{}' is not a directory", dir));
  std::size_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file())
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in)
      throw std::runtime_error(fmt::format("cannot read '{}'", entry.path().string()));
    total += body.str().size();
    if (total > max_total)
      throw std::runtime_error(
          fmt::format("'{}' holds more than {} bytes of files", dir, max_total));
    const std::string key = "/" + fs::relative(entry.path(), dir).generic_string();
    files_[key] = {content_type_for(key), body.str()};
  }
}

const StaticFile* StaticFiles::find(const std::string& path) const {
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

std::string StaticFiles::content_type_for(const std::string& name) {
  const std::string ext = fs::path(name).extension().string();
  if (ext == ".html" || ext == ".htm")
    return "text/html; charset=utf-8";
  if (ext == ".js")
    return "text/javascript; charset=utf-8";
  if (ext == ".css")
    return "text/css; charset=utf-8";
  if (ext == ".json")
    return "application/json";
  if (ext == ".svg")
    return "image/svg+xml";
  if (ext == ".png")
    return "image/png";
  if (ext == ".ico")
    return "image/x-icon";
  if (ext == ".txt")
    return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

} // namespace webui
