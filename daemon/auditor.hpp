#pragma once
// The one way the daemon writes audit rows outside a decision's own commit: through the ledger, on the
// blocking pool, and a row that cannot be written is logged with what it said, never dropped silently.
#include <utility>  // before asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/effect.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "ports/ledger.hpp"
#include "daemon/uses_ports.hpp"

namespace promoter::daemon {

class Auditor {
 public:
  // `blocking` runs the writes (never the I/O thread). The ledger must outlive every write.
  Auditor(Ledger& ledger, boost::asio::any_io_executor blocking);

  // Writes in the background; a failure is logged.
  void record(core::AuditNote note, core::Timestamp now) const;
  // Writes, and resumes the caller once the row is written; a failure is logged and returned.
  boost::asio::awaitable<core::Result<void>> write(core::AuditNote note, core::Timestamp now) const;

 private:
  Ledger& ledger_;
  boost::asio::any_io_executor blocking_;
};

}  // namespace promoter::daemon
