#include "tests/fakes/fake_listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace promoter::fakes {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

FakeListener::FakeListener(asio::any_io_executor executor) : executor_(executor), acceptor_(executor) {}

void FakeListener::start(unsigned short port, Serve serve) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  running_ = true;
  asio::co_spawn(executor_, accept(std::move(serve)), asio::detached);
}

void FakeListener::stop() {
  running_ = false;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& weak : connections_)
    if (auto stream = weak.lock()) stream->socket().close(ignored);
  connections_.clear();
}

asio::awaitable<void> FakeListener::accept(Serve serve) {
  while (running_) {
    boost::system::error_code ec;
    auto socket = co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (!running_ || ec == asio::error::operation_aborted) break;
      continue;
    }
    auto stream = std::make_shared<boost::beast::tcp_stream>(std::move(socket));
    std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
    connections_.push_back(stream);
    asio::co_spawn(executor_, serve(stream), asio::detached);
  }
}

}  // namespace promoter::fakes
