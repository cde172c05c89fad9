// Swarm services and tasks (discovery/engine_api.h's decoders, discovery/swarm.h): as Docker
// 20.10 (API 1.41) writes GET /services and GET /tasks, into the containers labels.h reads.
#include "discovery/swarm.h"

#include <doctest/doctest.h>

using namespace hamba::discovery;

namespace {

const char* kServices = R"json([
  {"ID":"s1","Version":{"Index":12},
   "Spec":{"Name":"dc_rng","Labels":{"hamba.frontend":"8001","com.docker.stack.namespace":"dc"},
           "TaskTemplate":{"ContainerSpec":{"Image":"rng","Labels":{"hamba.frontend":"9",
                                                                   "hamba.weight":"2"}}},
           "Mode":{"Replicated":{"Replicas":3}},
           "EndpointSpec":{"Mode":"dnsrr"}},
   "Endpoint":{"Spec":{"Mode":"dnsrr","Ports":[
     {"Protocol":"tcp","TargetPort":80,"PublishedPort":8001,"PublishMode":"host"},
     {"Protocol":"udp","TargetPort":53,"PublishedPort":53},
     {"Protocol":"tcp","TargetPort":80,"PublishedPort":8081}]}}},
  {"ID":"s2","Spec":{"Name":"dc_redis","Mode":{"Global":{}}}},
  {"Spec":{"Name":"no-id"}},
  "x"
])json";

const char* kTasks = R"json([
  {"ID":"t1","ServiceID":"s1","Slot":1,"NodeID":"n1","DesiredState":"running",
   "Status":{"State":"running","ContainerStatus":{"ContainerID":"c1","PID":12}},
   "NetworksAttachments":[
     {"Network":{"ID":"i","Spec":{"Name":"ingress","Ingress":true}},"Addresses":["10.0.0.5/24"]},
     {"Network":{"ID":"o","Spec":{"Name":"dc_default"}},"Addresses":["10.0.1.5/24"]}]},
  {"ID":"t2","ServiceID":"s1","Slot":2,"NodeID":"n1","DesiredState":"running",
   "Status":{"State":"starting","ContainerStatus":{}},
   "NetworksAttachments":[{"Network":{"Spec":{"Name":"dc_default"}},
                           "Addresses":["10.0.1.6/24"]}]},
  {"ID":"t3","ServiceID":"s1","Slot":3,"NodeID":"n2","DesiredState":"shutdown",
   "Status":{"State":"running"},
   "NetworksAttachments":[{"Network":{"Spec":{"Name":"dc_default"}},
                           "Addresses":["10.0.1.7/24"]}]},
  {"ID":"t4","ServiceID":"s2","NodeID":"n1","DesiredState":"running",
   "Status":{"State":"running"}}
])json";

} // namespace

TEST_CASE("swarm: a service list") {
  auto services = parse_service_list(kServices);
  REQUIRE(services.size() == 2);
  CHECK(services[0].name == "dc_rng");
  // The service's own labels over its containers'.
  CHECK(services[0].labels.at("hamba.frontend") == "8001");
  CHECK(services[0].labels.at("hamba.weight") == "2");
  CHECK(services[0].target_ports == std::vector<int>{80});
  CHECK(services[0].replicas == 3);
  CHECK(!services[1].replicas); // global
  CHECK(has_hamba_label(services[0].labels));
  CHECK(!has_hamba_label(services[1].labels));
  CHECK_THROWS_AS(parse_service_list("{}"), ApiError);
  CHECK_THROWS_AS(parse_service_list("[1"), ApiError);
}

TEST_CASE("swarm: a task list") {
  auto tasks = parse_task_list(kTasks);
  REQUIRE(tasks.size() == 4);
  CHECK(tasks[0].service_id == "s1");
  CHECK(tasks[0].slot == 1);
  CHECK(tasks[0].container_id == "c1");
  CHECK(tasks[0].state == "running");
  // The ingress network is left out; the CIDR suffix goes.
  CHECK(tasks[0].networks == std::map<std::string, std::string>{{"dc_default", "10.0.1.5"}});
  CHECK(tasks[1].container_id.empty());
  CHECK(tasks[3].slot == 0);
  CHECK_THROWS_AS(parse_task_list("null"), ApiError);
}

TEST_CASE("swarm: the tasks of a labelled service as containers") {
  auto services = parse_service_list(kServices);
  auto tasks = parse_task_list(kTasks);
  auto containers = task_containers(services, tasks);
  // t2 still starts; t3 is being shut down; t4's service has no hamba.* label.
  REQUIRE(containers.size() == 1);
  CHECK(containers[0].id == "c1"); // its container's: its events act on it
  CHECK(containers[0].name == "dc_rng.1");
  CHECK(containers[0].labels.at("hamba.frontend") == "8001");
  CHECK(containers[0].exposed_ports == std::vector<int>{80});
  CHECK(containers[0].state == "running");
  // t2 still starts: converging; once running, 2 tasks meant to run for 3 replicas still is.
  CHECK(converging(services, tasks));
  tasks[1].state = "running";
  CHECK(task_containers(services, tasks)[1].id == "t2"); // no container yet: the task's ID
  CHECK(converging(services, tasks));
  tasks[2].desired_state = "running";
  CHECK(!converging(services, tasks));

  // Two tasks of one slot (an update's old and new): the task ID tells them apart.
  tasks[2].slot = 1;
  containers = task_containers(services, tasks);
  REQUIRE(containers.size() == 3);
  CHECK(containers[0].name == "dc_rng.1.t1");
  CHECK(containers[2].name == "dc_rng.1.t3");
}
