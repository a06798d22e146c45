#pragma once
// The listening half every fake server shares: 127.0.0.1 on a given or free port, one coroutine per
// connection, and a stop() that closes the acceptor and every open connection. Single-threaded, like
// the fakes that own it.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <functional>
#include <memory>
#include <vector>

namespace promoter::fakes {

class FakeListener {
 public:
  using Serve = std::function<boost::asio::awaitable<void>(std::shared_ptr<boost::beast::tcp_stream>)>;

  explicit FakeListener(boost::asio::any_io_executor executor);

  // Listens on 127.0.0.1:port (0: a free port chosen now) and co_spawns serve(stream) for each connection.
  // `serve` should keep its fake's state alive. Throws if it cannot bind.
  void start(unsigned short port, Serve serve);
  void stop();  // closes the acceptor and every open connection
  bool running() const { return running_; }
  unsigned short port() const { return port_; }

 private:
  boost::asio::awaitable<void> accept(Serve serve);

  boost::asio::any_io_executor executor_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<boost::beast::tcp_stream>> connections_;
  bool running_ = false;
  unsigned short port_ = 0;
};

}  // namespace promoter::fakes
