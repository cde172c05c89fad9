// Swarm services as the containers the labels are read from: each running task of a service
// with hamba.* labels is one Container, with the service's labels, the task's addresses on its
// networks, and the service's published target ports as its exposed ports. labels.h then treats
// them as it treats containers, so a service takes the same labels as a container.
//
//     std::vector<Container> tasks = task_containers(services, tasks);
//     if (converging(services, tasks)) ... ask again soon ...
//
// A task's container ID is its ID when it has one, so the container events of the tasks on this
// node (a kill at a scale down) act on it at once. Its name is SERVICE.SLOT (a global service's
// task: SERVICE.NODE), with the task ID added when two tasks would share one.
#pragma once

#include "discovery/engine_api.h"

#include <vector>

namespace hamba::discovery {

// True when a label's key starts with "hamba.".
bool has_hamba_label(const Labels& labels);

// The running tasks of the services with hamba.* labels (and meant to run: a task being shut
// down is not served).
std::vector<Container> task_containers(const std::vector<Service>& services,
                                       const std::vector<Task>& tasks);

// A labelled service is not where Swarm is taking it: a task meant to run is not running yet,
// or a replicated service has more or fewer tasks meant to run than its replicas (a scale just
// asked for). Swarm says nothing on the event stream when the tasks it starts for a scale are
// up, so the provider asks again while this holds.
bool converging(const std::vector<Service>& services, const std::vector<Task>& tasks);

} // namespace hamba::discovery
