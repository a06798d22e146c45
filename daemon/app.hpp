#pragma once
// promoterd assembled: store, release service, executor, HTTP server, on one io_context plus a small
// blocking pool. main() and the end-to-end tests both run this.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <set>

#include "adapters/pg_store.hpp"
#include "adapters/simulated_production.hpp"
#include "daemon/api.hpp"
#include "daemon/auth.hpp"
#include "daemon/clock.hpp"
#include "daemon/config.hpp"
#include "daemon/http_server.hpp"
#include "daemon/metrics.hpp"
#include "daemon/promotion_executor.hpp"
#include "daemon/release_service.hpp"

namespace promoter::daemon {

class App {
 public:
  App(Config config, std::string database_url, std::vector<TokenEntry> tokens, const Clock& clock);
  ~App();

  // Applies schema migrations (waiting up to `db_wait` for the database), binds the listen address.
  core::Result<void> prepare(core::Duration db_wait);
  // Runs until stop(); returns once the io_context has no work left.
  void run();
  // Stops accepting, cancels timers, lets the current journal write finish. Safe from a signal handler's
  // io_context callback or another thread.
  void stop();

  unsigned short port() const { return server_->port(); }

 private:
  void start_promotion(PromotionId);
  boost::asio::awaitable<void> run_promotion(PromotionId);
  boost::asio::awaitable<void> startup();

  Config config_;
  const Clock& clock_;
  boost::asio::io_context io_;
  boost::asio::thread_pool pool_{4};
  adapters::PgStore store_;
  Metrics metrics_;
  TokenRegistry tokens_;
  ReleaseService releases_;
  adapters::SimulatedProduction simulated_;
  std::vector<std::unique_ptr<StepPerformer>> performers_;
  std::unique_ptr<PromotionExecutor> executor_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::set<PromotionId> running_;  // io thread only
  bool stopping_ = false;
};

}  // namespace promoter::daemon
