// Swarm tasks into containers (see swarm.h).
#include "discovery/swarm.h"

#include <algorithm>
#include <map>

namespace hamba::discovery {

namespace {

const Service* find_service(const std::vector<Service>& services, const std::string& id) {
  auto it =
      std::find_if(services.begin(), services.end(), [&](const Service& s) { return s.id == id; });
  return it != services.end() && has_hamba_label(it->labels) ? &*it : nullptr;
}

} // namespace

bool has_hamba_label(const Labels& labels) {
  return std::any_of(labels.begin(), labels.end(),
                     [](const auto& l) { return l.first.starts_with("hamba."); });
}

std::vector<Container> task_containers(const std::vector<Service>& services,
                                       const std::vector<Task>& tasks) {
  std::vector<Container> out;
  std::vector<std::string> task_ids;
  for (const Task& t : tasks) {
    const Service* s = find_service(services, t.service_id);
    if (!s || t.desired_state != "running" || t.state != "running")
      continue; // a task still starting is not counted as a running container
    Container c;
    c.id = t.container_id.empty() ? t.id : t.container_id;
    c.name = s->name + "." + (t.slot > 0 ? std::to_string(t.slot) : t.node_id.substr(0, 12));
    c.labels = s->labels;
    c.networks = t.networks;
    c.exposed_ports = s->target_ports;
    c.state = t.state;
    out.push_back(std::move(c));
    task_ids.push_back(t.id);
  }
  std::map<std::string, int> uses;
  for (const Container& c : out)
    ++uses[c.name];
  for (size_t i = 0; i < out.size(); ++i)
    if (uses[out[i].name] > 1) // an update's old and new task of one slot, for a moment
      out[i].name += "." + task_ids[i].substr(0, 12);
  return out;
}

bool converging(const std::vector<Service>& services, const std::vector<Task>& tasks) {
  for (const Service& s : services) {
    if (!has_hamba_label(s.labels))
      continue;
    int meant = 0;
    for (const Task& t : tasks)
      if (t.service_id == s.id && t.desired_state == "running") {
        ++meant;
        if (t.state != "running")
          return true;
      }
    if (s.replicas && meant != *s.replicas)
      return true;
  }
  return false;
}

} // namespace hamba::discovery
