#include "daemon/auditor.hpp"

#include <boost/asio/post.hpp>

#include "ports/blocking.hpp"
#include "daemon/uses_ports.hpp"
#include "daemon/log.hpp"

namespace promoter::daemon {

namespace {

// On the blocking pool.
core::Result<void> write_row(Ledger& ledger, const core::AuditNote& note, core::Timestamp now) {
  auto written = ledger.append_audit(note, now);
  if (!written) {
    nlohmann::json fields = {{"error", written.error().message},
                             {"actor", note.actor},
                             {"action", note.action},
                             {"audit_detail", note.detail}};
    if (note.sha) fields["sha"] = note.sha->str();
    if (!written.error().detail.empty()) fields["detail"] = written.error().detail;
    log(LogLevel::error, "could not write an audit row", fields);
  }
  return written;
}

}  // namespace

Auditor::Auditor(Ledger& ledger, boost::asio::any_io_executor blocking)
    : ledger_(ledger), blocking_(std::move(blocking)) {}

void Auditor::record(core::AuditNote note, core::Timestamp now) const {
  boost::asio::post(blocking_, [&ledger = ledger_, note = std::move(note), now] { write_row(ledger, note, now); });
}

boost::asio::awaitable<core::Result<void>> Auditor::write(core::AuditNote note, core::Timestamp now) const {
  auto work = [&ledger = ledger_, note = std::move(note), now] { return write_row(ledger, note, now); };
  co_return co_await run_blocking(blocking_, std::move(work));
}

}  // namespace promoter::daemon
