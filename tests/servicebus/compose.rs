//! The optional Service Bus emulator in docker-compose.yml (profile `servicebus`): its services, profile, ports and
//! password handling, and the emulator's Config.json declaring the scenarios' queue.

use serde_json::Value as Json;
use serde_norway::Value;

fn compose() -> Value {
    let text = std::fs::read_to_string("docker-compose.yml").unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_sequence().map_or(Vec::new(), |s| s.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
}

#[test]
fn compose_has_the_emulator_behind_its_own_profile_on_a_port_apart_from_rabbitmq() {
    let c = compose();
    let services = &c["services"];
    let rabbit = &services["rabbitmq"];
    assert!(rabbit["profiles"].is_null(), "RabbitMQ starts with a plain `docker compose up`");
    assert!(strs(&rabbit["ports"]).iter().any(|p| p.starts_with("5672:")));
    let emu = &services["servicebus-emulator"];
    let sql = &services["servicebus-sql"];
    assert!(emu["image"].as_str().unwrap().starts_with("mcr.microsoft.com/azure-messaging/servicebus-emulator"));
    assert!(sql["image"].as_str().unwrap().starts_with("mcr.microsoft.com/azure-sql-edge"));
    for s in [emu, sql] {
        assert_eq!(strs(&s["profiles"]), ["servicebus"]);
        assert_eq!(s["environment"]["ACCEPT_EULA"].as_str(), Some("Y"));
        // The password comes from the environment: nothing real is committed.
        let pw = s["environment"]["MSSQL_SA_PASSWORD"].as_str().unwrap();
        assert!(pw.starts_with("${MSSQL_SA_PASSWORD"), "{pw}");
    }
    assert_eq!(strs(&emu["depends_on"]), ["servicebus-sql"]);
    assert_eq!(emu["environment"]["SQL_SERVER"].as_str(), Some("servicebus-sql"));
    let ports = strs(&emu["ports"]);
    assert_eq!(ports, ["5673:5672"]);
    let volumes = strs(&emu["volumes"]);
    assert!(volumes.iter().any(|v| v.starts_with("./servicebus-emulator/Config.json:")), "{volumes:?}");
}

#[test]
fn the_emulator_config_declares_the_queue_with_service_bus_defaults() {
    let text = std::fs::read_to_string("servicebus-emulator/Config.json").unwrap();
    let c: Json = serde_json::from_str(&text).unwrap();
    let queues = c["UserConfig"]["Namespaces"][0]["Queues"].as_array().unwrap();
    let names: Vec<&str> = queues.iter().map(|q| q["Name"].as_str().unwrap()).collect();
    assert_eq!(names, ["order-processing", "order-processing_error", "order-processing_skipped"]);
    for q in queues {
        assert_eq!(q["Properties"]["MaxDeliveryCount"], 10);
        assert_eq!(q["Properties"]["LockDuration"], "PT1M");
        assert_eq!(q["Properties"]["RequiresSession"], false);
    }
    // The shipped scenarios use that queue.
    let steady = std::fs::read_to_string("scenarios/steady-state.toml").unwrap();
    assert!(steady.contains("name = \"order-processing\""));
}
