// The catalogue's keys of a sync pass's lines (node/pass_lines.h:
// "sync.line.*", each with parameters and the command line's English
// words beside them) and of the Sync page's refusals' reasons
// ("sync.why.*"), added to MESSAGES (messages.js, loaded first). Every key
// the node can give is here in both languages (ConsoleCatalogueTest);
// app.js's passLineText fills the parameters, or shows the English words
// of a key this catalogue lacks. A {note}, {first} or {reason} is the
// hub's or the library's own words (English), escaped.
"use strict";
Object.assign(MESSAGES.vi, {
  "sync.why.signs": "mỗi lần đồng bộ ký những gì nó gửi đi",
  "sync.why.wait": "hãy chờ lần đó xong",
  "sync.line.skew_laptop_ahead": "Đồng hồ của máy này và của máy chủ lệch nhau {seconds} giây (đồng hồ máy này chạy trước): hãy kiểm tra ngày giờ ở đây; nếu đúng, hãy báo quản trị viên máy chủ. Máy chủ không nhận việc ghi giờ sau giờ của nó",
  "sync.line.skew_hub_ahead": "Đồng hồ của máy này và của máy chủ lệch nhau {seconds} giây (đồng hồ máy chủ chạy trước): hãy kiểm tra ngày giờ ở đây; nếu đúng, hãy báo quản trị viên máy chủ",
  "sync.line.hub_notice": "Máy chủ báo: {note}",
  "sync.line.key_note": "Khoá: {note}",
  "sync.line.keys_refused": "Máy này từ chối {n} bản ghi khoá nhận từ máy chủ (đầu tiên: {first})",
  "sync.line.keys_refused_by_hub": "Máy chủ từ chối {n} bản ghi khoá của máy này; chúng được để riêng (đầu tiên: {first}) và được gửi lại ở các lần đồng bộ sau, việc phê duyệt và gỡ thiết bị trước (trang Thiết bị liệt kê chúng)",
  "sync.line.set_aside": "Máy chủ từ chối hẳn {n} thay đổi của máy này (đầu tiên: {first}); chúng được để riêng, mọi thay đổi khác đã được gửi: xem trang Bị từ chối",
  "sync.line.withdrawal": "Rút lại thay đổi bị từ chối: {note}",
  "sync.line.redate": "Việc ghi bởi đồng hồ chạy trước: {note}",
  "sync.line.went_back": "Sổ ghi của máy chủ đã lùi từ vị trí {from} về {to} (máy chủ được khôi phục từ một bản sao lưu cũ hơn): máy này đã nhận lại từ {to}; những gì đã có được bỏ qua",
  "sync.line.relayed": "Đã chuyển lại cho máy chủ {changes} thay đổi và {records} bản ghi khoá của các máy khác mà máy chủ đã mất",
  "sync.line.relay_note": "Chuyển lại: {note}",
  "sync.line.own_resent": "Máy chủ chỉ còn giữ thay đổi của máy này đến số {held} trong {sent} thay đổi nó đã xác nhận (máy chủ được khôi phục từ một bản sao lưu cũ hơn): phần còn lại đã được gửi lại",
  "sync.line.downgrade": "MÁY CHỦ HẠ PHIÊN BẢN: trước đây máy chủ đã thống nhất giao thức phiên bản {from} với máy này, nay nói {now}. Máy này không nhận thay đổi của đồng nghiệp mà nó theo dõi lịch sử cho đến khi máy chủ dùng lại phiên bản {from} (việc của chính máy này vẫn được gửi): hãy báo quản trị viên máy chủ",
  "sync.line.chain_problem": "Lịch sử: {note}",
  "sync.line.rows_unvouched": "{n} bản ghi của một hồ sơ mới được chuyển gửi đến văn phòng này đến mà không kèm các thay đổi có chữ ký đã ghi chúng: chúng hiển thị như máy chủ gửi, nhưng không quyết định khoá nào hay văn phòng nào máy này niêm phong cho",
  "sync.line.held": "{n} thay đổi của các máy khác chờ ở đây cho đến khi máy chủ gửi những gì đứng trước chúng; phần còn lại của lần đồng bộ vẫn tiếp tục",
  "sync.line.new_evidence": "Máy chủ đã cho máy này xem một lịch sử mà các tác giả không ký như một (đã lưu làm bằng chứng trên máy này): hãy báo quản trị viên máy chủ và văn phòng của bạn",
  "sync.line.unacknowledged": "{n} bằng chứng về độ tin cậy chưa được cán bộ đọc (fieldnode trust liệt kê chúng; fieldnode trust ack khi đã đọc)",
  "sync.line.push_refused": "Đã nhận, nhưng máy chủ từ chối phần gửi đi: {reason}. Thay đổi bị từ chối và những thay đổi sau nó vẫn ở máy này; không mất gì",
  "sync.line.synced": "Đã gửi {pushed} thay đổi, đã nhận {pulled} thay đổi và {records} bản ghi; vị trí {cursor} trên {head}; {ms} ms",
  "sync.line.already_held": "Máy chủ đã có sẵn {n} thay đổi trong số được gửi",
  "sync.line.bootstrap": "Đã cài toàn bộ trạng thái hiện tại của máy chủ (lần đầu)",
  "sync.line.purged": "Đã bỏ {n} bản ghi đã xoá mà máy chủ đã dọn",
  "sync.line.failure": "Chi tiết: {reason}",
  "sync.line.keys_forgotten": "Tác nhân giữ khoá đã khoá lại: khoá của văn phòng đã được quên, lần đồng bộ chạy khi đang khoá"
});
Object.assign(MESSAGES.en, {
  "sync.why.signs": "a sync pass signs what it sends",
  "sync.why.wait": "wait for it to end",
  "sync.line.skew_laptop_ahead": "This laptop's clock and the hub's differ by {seconds} s (this laptop's is ahead): check the date and time here; if they are right, tell the hub administrator. Work stamped ahead of the hub's time is not taken by it",
  "sync.line.skew_hub_ahead": "This laptop's clock and the hub's differ by {seconds} s (the hub's is ahead): check the date and time here; if they are right, tell the hub administrator",
  "sync.line.hub_notice": "The hub says: {note}",
  "sync.line.key_note": "Keys: {note}",
  "sync.line.keys_refused": "Refused {n} key records from the hub (first: {first})",
  "sync.line.keys_refused_by_hub": "The hub refused {n} of this laptop's key records; they are set aside (first: {first}) and sent again at the next syncs, approvals and removals first (the Devices page lists them)",
  "sync.line.set_aside": "The hub refused {n} of this laptop's changes for good (first: {first}); they are set aside, every other change was sent: see the Refused page",
  "sync.line.withdrawal": "Withdrawing refused changes: {note}",
  "sync.line.redate": "Work stamped by a clock ahead: {note}",
  "sync.line.went_back": "The hub's log went back from position {from} to {to} (a hub restored from an older backup): this laptop pulled again from {to}; what it already held was skipped",
  "sync.line.relayed": "Relayed {changes} changes and {records} key records of other laptops to the hub, which had lost them",
  "sync.line.relay_note": "Relay: {note}",
  "sync.line.own_resent": "The hub held this laptop's changes only up to {held} of the {sent} it had acknowledged (a hub restored from an older backup): the rest was sent again",
  "sync.line.downgrade": "HUB DOWNGRADE: the hub agreed protocol version {from} with this laptop before and says {now} now. This laptop takes no commit of a colleague whose history it tracks until the hub speaks {from} again (this laptop's own work is still sent): tell the hub administrator",
  "sync.line.chain_problem": "History: {note}",
  "sync.line.rows_unvouched": "{n} record(s) of a case newly referred to this office came without the signed commits that wrote them: shown as the hub served them, they decide no key and no office this laptop seals for",
  "sync.line.held": "{n} commits of other laptops wait here until the hub sends what comes before them; the rest of the sync went on",
  "sync.line.new_evidence": "The hub showed this laptop a history its authors did not sign as one (kept as evidence on this laptop): tell the hub administrator and your office",
  "sync.line.unacknowledged": "{n} trust evidence item(s) not yet read by an officer (fieldnode trust lists them; fieldnode trust ack once read)",
  "sync.line.push_refused": "Pulled, but the push was refused: {reason}. The refused commit and those after it stay on this laptop; nothing of them was lost",
  "sync.line.synced": "Sent {pushed} changes, received {pulled} changes and {records} records; at position {cursor} of {head}; {ms} ms",
  "sync.line.already_held": "The hub already held {n} of the changes sent",
  "sync.line.bootstrap": "The hub's current state was installed whole (first sync)",
  "sync.line.purged": "Dropped {n} deleted records the hub collected",
  "sync.line.failure": "Details: {reason}",
  "sync.line.keys_forgotten": "The key agent was locked: the office keys were forgotten, the pass synced locked"
});
