#include "daemon/config/config_sections.hpp"

#include <algorithm>
#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "core/identity.hpp"
#include "daemon/config/toml_reader.hpp"

namespace promoter::daemon {

// [server]: where to listen, how this instance is reached and named, connection limits.
void read_server_section(const TomlReader& r, const toml::table& root, Config& c) {
  if (const auto* server = r.table(root, "server", "[server]")) {
    r.only(*server, "server",
           {"listen", "advertise_url", "public_url", "instance_name", "max_connections", "max_connections_per_peer",
            "header_timeout", "max_event_streams", "max_event_streams_per_peer", "event_heartbeat"});
    if (auto v = r.integer(*server, "max_event_streams", "server.max_event_streams", 1, 100000))
      c.max_event_streams = static_cast<std::size_t>(*v);
    if (auto v = r.integer(*server, "max_event_streams_per_peer", "server.max_event_streams_per_peer", 1, 100000))
      c.max_event_streams_per_peer = static_cast<std::size_t>(*v);
    if (auto v = r.duration(*server, "event_heartbeat", "server.event_heartbeat")) {
      if (*v < std::chrono::milliseconds(100) || *v > std::chrono::minutes(5))
        r.error(server->get("event_heartbeat"),
                fmt::format("server.event_heartbeat = \"{}\" must be between 100ms and 5m: how often an idle event "
                            "stream hears a comment line (proxies close silent connections)",
                            core::format_duration(*v)));
      c.event_heartbeat = *v;
    }
    if (auto v = r.integer(*server, "max_connections", "server.max_connections", 1, 100000))
      c.max_connections = static_cast<std::size_t>(*v);
    if (auto v = r.integer(*server, "max_connections_per_peer", "server.max_connections_per_peer", 1, 100000))
      c.max_connections_per_peer = static_cast<std::size_t>(*v);
    if (!server->get("max_connections_per_peer"))
      c.max_connections_per_peer = std::min(c.max_connections_per_peer, c.max_connections);
    if (c.max_connections_per_peer > c.max_connections)
      r.error(server->get("max_connections_per_peer"),
              fmt::format("server.max_connections_per_peer = {} is above server.max_connections = {}; one address "
                          "would be allowed more than every address together",
                          c.max_connections_per_peer, c.max_connections));
    if (auto v = r.duration(*server, "header_timeout", "server.header_timeout")) {
      if (*v < std::chrono::milliseconds(100) || *v > std::chrono::minutes(5))
        r.error(server->get("header_timeout"),
                fmt::format("server.header_timeout = \"{}\" must be between 100ms and 5m: how long a connection may "
                            "take to send a complete request header",
                            core::format_duration(*v)));
      c.header_timeout = *v;
    }
    // http[s]://HOST[:PORT] with no path, trailing slashes dropped.
    auto origin = [&](std::string_view key, std::string_view what) -> std::optional<std::string> {
      const std::string where = fmt::format("server.{}", key);
      auto url = r.string(*server, key, where);
      if (!url) return std::nullopt;
      std::string trimmed = *url;
      while (trimmed.ends_with('/')) trimmed.pop_back();
      const auto scheme_end = trimmed.find("://");
      const bool http = trimmed.starts_with("http://") || trimmed.starts_with("https://");
      if (!http || trimmed.size() <= scheme_end + 3 ||
          trimmed.find_first_of("/?#", scheme_end + 3) != std::string::npos)
        r.error(server->get(key),
                fmt::format("{} = \"{}\" must be http[s]://HOST[:PORT] with no path: {}", where, *url, what));
      return trimmed;
    };
    if (auto url = origin("advertise_url", "where other instances reach this one")) c.advertise_url = *url;
    if (auto url = origin("public_url", "where people reach promoterd (links, the console)")) c.public_url = *url;
    if (auto name = r.string(*server, "instance_name", "server.instance_name")) {
      const bool printable = std::all_of(name->begin(), name->end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
      if (name->empty() || name->size() > 63 || !printable)
        r.error(server->get("instance_name"),
                fmt::format("server.instance_name must be 1 to 63 printable ASCII characters without spaces"));
      c.instance_name = *name;
    }
    if (auto listen = r.string(*server, "listen", "server.listen")) {
      const auto colon = listen->rfind(':');
      int port = -1;
      if (colon != std::string::npos) {
        try {
          port = std::stoi(listen->substr(colon + 1));
        } catch (...) {
        }
      }
      if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535)
        r.error(server->get("listen"),
                fmt::format("server.listen = \"{}\" must be HOST:PORT, e.g. \"127.0.0.1:8080\"", *listen));
      c.listen_host = listen->substr(0, colon);
      if (c.listen_host.size() > 2 && c.listen_host.front() == '[')
        c.listen_host = c.listen_host.substr(1, c.listen_host.size() - 2);
      c.listen_port = static_cast<std::uint16_t>(port);
    }
  }
}

}  // namespace promoter::daemon
