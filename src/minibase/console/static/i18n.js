// The console's words in English and Chinese; the browser's language chooses, the switch
// in the header changes it (remembered in localStorage: it is no secret).
const WORDS = {
  en: {
    title: "minibase console", email: "Email", password: "Password", signIn: "Sign in",
    signOut: "Sign out", collections: "Collections", records: "Records", fields: "fields",
    rules: "Rules", filter: "Filter (JSON)", sort: "Sort", apply: "Apply", next: "Next page",
    first: "First page", table: "Table", json: "JSON", save: "Save", back: "Back",
    noRecords: "No records match.", expired: "Your session has ended: sign in again.",
    conflict: "Someone changed this record since you opened it (now version {v}). Reload it.",
    saved: "Saved.", language: "中文", invalidJson: "This is not valid JSON.",
    users: "Users", jobs: "Jobs", search: "Search", userQuery: "user id, phone number, openid or unionid",
    noUsers: "No such user.", roles: "Roles", saveRoles: "Save roles", disabled: "disabled",
    enable: "Enable", disable: "Disable", signOutEverywhere: "Sign out everywhere",
    revoked: "Signed out everywhere ({n} sessions ended).", all: "all", retry: "Retry",
    cancel: "Cancel", newCollection: "New collection", definition: "Definition (JSON)",
    create: "Create", newRecord: "New record", delete: "Delete", deleted: "Deleted.",
    ruleTester: "Rule tester", testerUserLabel: "As user (empty: not signed in)",
    testerUser: "user id", testerRecordLabel: "On record (an id, or JSON)",
    testerRecord: 'record id, or {"published": true}', testRules: "Test",
    apps: "Apps", platform: "Platform", isSet: "set", registerApp: "Register or update",
    secretsWriteOnly: "Secrets are write-only: set or replace them here; they are never shown.",
    payments: "Payments", orders: "Orders", reconciliation: "Reconciliation", rejected: "Rejected reports",
    merchants: "Merchants", userId: "user id", noOrders: "No orders.", refunds: "Refunds",
    history: "History", refund: "Refund…", refundAmount: "Amount (yuan)", refundReason: "reason (optional)",
    confirmRefund: "Refund {amount} to the buyer?", confirm: "Confirm", keep: "Keep",
    confirmDelete: "Delete record {id}? This cannot be undone.", askProvider: "Ask the provider now",
    rejectedHelp: "Payment notifications the server refused (bad signature, tampered, stale, unknown app or merchant). Nothing changed for them.",
    noneRejected: "No refused reports.", reconcileHelp: "Orders and refunds that no notification settled are asked about after a while (pay.reconcile, see pay_reconcile_after).",
    reconcileRuns: "Recent runs", reconcileSettled: "What reconciliation settled (no notification told)", noRuns: "No runs yet.", awaitingPayment: "Waiting for payment",
    awaitingRefund: "Waiting for the bank's refund answer", registerMerchant: "Register or change a merchant",
    fieldName: "field name", fieldType: "type", moreJson: 'more: "default": 0, ...', required: "required",
    removeField: "Remove field", removeIndex: "Remove index", indexFields: "fields (- for descending)",
    unique: "unique", preset: "Preset", customRules: "custom (no preset)", asPreset: "as the preset says",
    adminsOnly: "empty: admins only", collectionName: "Name", additional: "allow undeclared fields",
    fieldsTitle: "Fields", indexesTitle: "Indexes", addField: "Add field", addIndex: "Add index",
    form: "Form", badMore: "The extra options of {name} are not JSON.",
    accessToken: "access token", noToken: "none (called without one)", tokenUntil: "valid until {when}",
    notCached: "not fetched yet", fetchedBy: "fetched {when} by {by}", leaseHeld: "being refreshed by {owner} until {until}",
    tokenRefused: "refused by the platform: fetched again on next use", refreshToken: "Refresh…",
    confirmRefresh: "Fetch a new token for every instance? The platform allows only a few forced refreshes a day.",
    account: "open-platform account (optional)",
    activity: "Activity", messages: "Subscribe messages", push: "Message push", contentChecks: "Content checks",
    qrcodes: "Mini program codes", health: "Health", nothingYet: "Nothing yet.",
    files: "Files", upload: "Upload into", addFile: "Add file", replaceFile: "Replace file",
    contentHelp: "Images and audio the platforms checked (mediaCheckAsync, Douyin's censor); text checks are answered at once and not kept.",
    makeCode: "Make a code", checkPath: "the page must exist in the published app", homePage: "home page", healthSummary: "version {version}, up {uptime} s",
    realtime: "Realtime (this instance)", database: "Database", cacheStore: "Shared token store", storage: "File storage",
    dropCollection: "Drop collection…", confirmDrop: "Drop {name} and all its records and files? This cannot be undone.",
    remove: "Remove…", confirmRemoveApp: "Remove app {appid}? Its users keep their accounts; it can no longer sign anyone in.",
    confirmRemoveMerchant: "Remove merchant {mchid}? Its orders stay, but cannot be refunded or reconciled until it is back.",
    guest: "guest", since: "since {when}", mergedNote: "{id} was merged into this account.",
    mergeHistory: "Merge history ({n})", mergedFrom: "{user} merged into {into} on {when} ({records} records moved)",
  },
  zh: {
    title: "minibase 控制台", email: "邮箱", password: "密码", signIn: "登录",
    signOut: "退出登录", collections: "集合", records: "记录", fields: "个字段",
    rules: "规则", filter: "筛选（JSON）", sort: "排序", apply: "应用", next: "下一页",
    first: "第一页", table: "表格", json: "JSON", save: "保存", back: "返回",
    noRecords: "没有符合条件的记录。", expired: "会话已结束，请重新登录。",
    conflict: "打开后该记录已被他人修改（当前版本 {v}），请重新加载。",
    saved: "已保存。", language: "English", invalidJson: "不是有效的 JSON。",
    users: "用户", jobs: "任务", search: "搜索", userQuery: "用户 ID、手机号、openid 或 unionid",
    noUsers: "没有这个用户。", roles: "角色", saveRoles: "保存角色", disabled: "已停用",
    enable: "启用", disable: "停用", signOutEverywhere: "在所有设备上退出",
    revoked: "已在所有设备上退出（结束 {n} 个会话）。", all: "全部", retry: "重试",
    cancel: "取消", newCollection: "新建集合", definition: "定义（JSON）",
    create: "创建", newRecord: "新建记录", delete: "删除", deleted: "已删除。",
    ruleTester: "规则测试", testerUserLabel: "以用户身份（留空：未登录）",
    testerUser: "用户 ID", testerRecordLabel: "针对记录（ID 或 JSON）",
    testerRecord: '记录 ID，或 {"published": true}', testRules: "测试",
    apps: "应用", platform: "平台", isSet: "已设置", registerApp: "注册或更新",
    secretsWriteOnly: "密钥只写不读：可在此设置或替换，永不显示。",
    payments: "支付", orders: "订单", reconciliation: "对账", rejected: "被拒绝的通知",
    merchants: "商户", userId: "用户 ID", noOrders: "没有订单。", refunds: "退款",
    history: "历史", refund: "退款…", refundAmount: "金额（元）", refundReason: "原因（可选）",
    confirmRefund: "向买家退款 {amount}？", confirm: "确认", keep: "取消",
    confirmDelete: "删除记录 {id}？此操作不可撤销。", askProvider: "立即向支付平台查询",
    rejectedHelp: "服务器拒绝的支付通知（签名错误、被篡改、过期、未知应用或商户），未做任何更改。",
    noneRejected: "没有被拒绝的通知。", reconcileHelp: "未收到通知的订单和退款会在一段时间后主动查询（pay.reconcile，见 pay_reconcile_after）。",
    reconcileRuns: "最近运行", reconcileSettled: "对账确认的变更（未收到通知）", noRuns: "尚未运行。", awaitingPayment: "等待支付",
    awaitingRefund: "等待银行退款结果", registerMerchant: "注册或修改商户",
    fieldName: "字段名", fieldType: "类型", moreJson: '更多："default": 0, ...', required: "必填",
    removeField: "删除字段", removeIndex: "删除索引", indexFields: "字段（- 表示降序）",
    unique: "唯一", preset: "预设", customRules: "自定义（无预设）", asPreset: "按预设",
    adminsOnly: "留空：仅管理员", collectionName: "名称", additional: "允许未声明的字段",
    fieldsTitle: "字段", indexesTitle: "索引", addField: "添加字段", addIndex: "添加索引",
    form: "表单", badMore: "{name} 的其他选项不是有效的 JSON。",
    accessToken: "访问令牌", noToken: "无（调用无需令牌）", tokenUntil: "有效期至 {when}",
    notCached: "尚未获取", fetchedBy: "{when} 由 {by} 获取", leaseHeld: "{owner} 正在刷新，至 {until}",
    tokenRefused: "被平台拒绝：下次使用时重新获取", refreshToken: "刷新…",
    confirmRefresh: "为所有实例获取新令牌？平台每天只允许少量强制刷新。",
    account: "开放平台账号（可选）",
    activity: "动态", messages: "订阅消息", push: "消息推送", contentChecks: "内容安全",
    qrcodes: "小程序码", health: "健康状况", nothingYet: "暂无。",
    files: "文件", upload: "上传到", addFile: "添加文件", replaceFile: "替换文件",
    contentHelp: "平台检测过的图片和音频（mediaCheckAsync、抖音审核）；文本检测即时返回，不保存。",
    makeCode: "生成小程序码", checkPath: "页面须存在于已发布版本", homePage: "首页", healthSummary: "版本 {version}，已运行 {uptime} 秒",
    realtime: "实时连接（本实例）", database: "数据库", cacheStore: "共享令牌存储", storage: "文件存储",
    dropCollection: "删除集合…", confirmDrop: "删除 {name} 及其全部记录和文件？此操作不可撤销。",
    remove: "移除…", confirmRemoveApp: "移除应用 {appid}？其用户保留账号，但无法再通过它登录。",
    confirmRemoveMerchant: "移除商户 {mchid}？其订单保留，但在恢复前无法退款或对账。",
    guest: "访客", since: "注册于 {when}", mergedNote: "{id} 已合并到此账号。",
    mergeHistory: "合并历史（{n}）", mergedFrom: "{user} 于 {when} 合并到 {into}（迁移 {records} 条记录）",
  },
};

let language = localStorage.getItem("minibase.console.language")
  ?? (navigator.language.toLowerCase().startsWith("zh") ? "zh" : "en");

export function t(key, values = {}) {
  const text = WORDS[language][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export function switchLanguage() {
  language = language === "zh" ? "en" : "zh";
  localStorage.setItem("minibase.console.language", language);
  document.documentElement.lang = language === "zh" ? "zh-CN" : "en";
}

export function currentLanguage() {
  return language;
}
