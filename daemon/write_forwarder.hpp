#pragma once
// A standby's writes go to the leader: the request as it came (method, target, Authorization,
// Content-Type, body) is sent to the leader's advertise_url, and the leader's answer is returned as is,
// with X-Promoter-Served-By naming the leader. The leader authenticates and authorises it again, so a
// standby grants nothing. A request that was already forwarded once is never forwarded again.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "adapters/http_client.hpp"
#include "daemon/http/http_types.hpp"
#include "daemon/leadership.hpp"
#include "daemon/metrics.hpp"

namespace promoter::daemon {

class WriteForwarder {
 public:
  WriteForwarder(adapters::HttpClient& client, const Leadership& leadership, Metrics& metrics)
      : client_(client), leadership_(leadership), metrics_(metrics) {}

  // nullopt on the leader (the handler answers); otherwise the leader's answer or a 503 saying why not.
  boost::asio::awaitable<std::optional<HttpResponse>> operator()(HttpRequest&);

 private:
  adapters::HttpClient& client_;
  const Leadership& leadership_;
  Metrics& metrics_;
};

}  // namespace promoter::daemon
