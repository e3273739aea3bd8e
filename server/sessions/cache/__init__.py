"""The sidecar output cache (DESIGN §3): records, TOML, caps, identity, safe writes."""
