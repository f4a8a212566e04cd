// WeChat sandbox chat page. Vanilla JS; every piece of data goes into the DOM as text
// (textContent, attributes checked below), never as HTML.
(function () {
  "use strict";

  var API = "/sandbox/chat/api/";
  var POLL_MS = 1500;
  var $ = function (id) { return document.getElementById(id); };
  var state = { openid: "", after: 0, polling: false, again: false, user: null, mode: "plain" };

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (name) {
      if (name === "text") { node.textContent = props[name]; }
      else if (name === "className") { node.className = props[name]; }
      else { node.setAttribute(name, props[name]); }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  // Only http(s) links; anything else (javascript:, data:) is shown as plain text.
  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\/[^\s]+$/i.test(url) ? url : null;
  }

  function safeImage(url) {
    if (typeof url !== "string") { return null; }
    return safeUrl(url) || (/^\/[^\/]/.test(url) ? url : null);
  }

  function link(url, label) {
    return el("a", { href: url, target: "_blank", rel: "noopener" }, [label]);
  }

  // WeChat renders <a href="...">label</a> in text messages; bare URLs get linked too.
  var LINKS = /<a\s+[^>]*?href=(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>|(https?:\/\/[^\s<>"']+)/gi;

  function richText(parent, text) {
    var last = 0;
    var match;
    LINKS.lastIndex = 0;
    while ((match = LINKS.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var url = safeUrl(match[2] !== undefined ? match[2] : match[4]);
      var label = match[3] !== undefined ? match[3] : match[4];
      parent.appendChild(url ? link(url, label) : document.createTextNode(match[0]));
      last = LINKS.lastIndex;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
    return parent;
  }

  function status(text) { $("status").textContent = text || ""; }

  function api(method, path, body) {
    var init = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(API + path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) { throw new Error(data.error || ("HTTP " + res.status)); }
        return data;
      });
    });
  }

  // --- rendering ----------------------------------------------------------------------

  function newsCard(article, total) {
    var url = safeUrl(article.url);
    var card = el(url ? "a" : "div", { className: "card news" });
    if (url) { card.setAttribute("href", url); card.setAttribute("target", "_blank"); card.setAttribute("rel", "noopener"); }
    var pic = safeImage(article.picurl);
    if (pic) { card.appendChild(el("img", { src: pic, alt: "" })); }
    card.appendChild(el("div", { className: "title", text: article.title || "" }));
    if (article.description) { card.appendChild(el("div", { className: "desc", text: article.description })); }
    if (total > 1) {
      card.appendChild(el("div", { className: "more", text: "（共 " + total + " 篇，微信只显示第一篇 · WeChat shows only the first）" }));
    }
    return card;
  }

  function templateCard(msg) {
    var card = el("div", { className: "card template" });
    card.appendChild(el("div", { className: "title", text: "模板消息 " + msg.template_id }));
    var rows = el("div", { className: "rows" });
    (msg.rows || []).forEach(function (row) {
      rows.appendChild(el("div", {}, [el("b", { text: row[0] }), el("span", { text: row[1] })]));
    });
    card.appendChild(rows);
    var url = safeUrl(msg.url);
    if (url) {
      var more = link(url, "详情 Details");
      more.className = "link";
      card.appendChild(more);
    }
    return card;
  }

  function msgMenu(msg) {
    var box = el("div", { className: "bubble msgmenu" });
    if (msg.head) { box.appendChild(el("div", { text: msg.head })); }
    (msg.items || []).forEach(function (item) {
      var choice = el("button", { type: "button", text: item.content });
      choice.addEventListener("click", function () { sendText(item.content); });
      box.appendChild(choice);
    });
    if (msg.tail) { box.appendChild(el("div", { text: msg.tail })); }
    return box;
  }

  function picture(msg) {
    var src = safeImage(msg.url);
    if (!src) { return el("div", { className: "bubble", text: "[图片]" }); }
    var img = el("img", { src: src, alt: "[图片]" });
    // Like WeChat, a tap opens the picture at full size.
    return el("a", { className: "bubble picture", href: src, target: "_blank", rel: "noopener" }, [img]);
  }

  function content(msg) {
    switch (msg.type) {
      case "text": return richText(el("div", { className: "bubble" }), msg.content || "");
      case "image": return picture(msg);
      case "news": return newsCard((msg.articles || [{}])[0], msg.total || 1);
      case "template": return templateCard(msg);
      case "msgmenu": return msgMenu(msg);
      default: return el("div", { className: "bubble", text: msg.label || ("[" + msg.type + "]") });
    }
  }

  var VIA = { custom: "客服消息 customer service", template: "模板消息 template", passive: "" };

  function render(entry) {
    var msg = entry.msg || {};
    var row;
    if (entry.dir === "note" || msg.type === "event" || msg.type === "notice") {
      var level = msg.level === "error" ? " error" : "";
      row = el("div", { className: "msg sys" + level }, [el("span", { text: msg.label || msg.text || "" })]);
    } else {
      var mine = entry.dir === "in";
      var body = el("div", { className: "body" });
      if (!mine && VIA[entry.via]) { body.appendChild(el("span", { className: "via", text: VIA[entry.via] })); }
      body.appendChild(content(msg));
      row = el("div", { className: "msg " + (mine ? "in" : "out") }, [
        el("div", { className: "avatar", text: mine ? "我" : "店" }), body,
      ]);
      row.setAttribute("data-via", entry.via || "");
    }
    row.setAttribute("data-seq", String(entry.seq));
    return row;
  }

  function show(entries) {
    var log = $("log");
    var nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    entries.forEach(function (entry) {
      if (entry.seq <= state.after) { return; }
      log.appendChild(render(entry));
      state.after = entry.seq;
    });
    if (entries.length && nearBottom) { log.scrollTop = log.scrollHeight; }
  }

  function quotaText(quota) {
    if (!quota) { return ""; }
    if (quota.unlimited) { return "客服消息额度：支付后 48 小时不限 · CS messages unlimited (paid)"; }
    return "客服消息额度 CS messages left: " + quota.left + " (" + quota.window + ")";
  }

  // --- polling ------------------------------------------------------------------------

  function poll() {
    if (!state.openid) { return Promise.resolve(); }
    if (state.polling) { state.again = true; return Promise.resolve(); }
    state.polling = true;
    var openid = state.openid;
    return api("GET", "messages?openid=" + encodeURIComponent(openid) + "&after=" + state.after)
      .then(function (data) {
        if (openid !== state.openid) { return; }
        show(data.entries || []);
        setUser(data.user);
        $("quota").textContent = quotaText(data.quota);
      })
      .catch(function (err) { status(err.message); })
      .then(function () {
        state.polling = false;
        if (state.again) { state.again = false; poll(); }
      });
  }

  // --- users and controls -------------------------------------------------------------

  function setUser(user) {
    state.user = user;
    var following = !!(user && user.subscribed);
    $("text").disabled = !following;
    $("send").disabled = !following;
    $("text").placeholder = following ? "发消息 type a message" : "关注后才能发消息 · follow first";
    $("follow").disabled = !user || following;
    $("unfollow").disabled = !following;
    $("scan").disabled = !user;
    $("retry").disabled = !user;
    $("send-location").disabled = !following;
    $("send-image").disabled = !following;
    if (user && user.mode && user.mode !== state.mode) {
      var radio = document.querySelector('input[name=mode][value="' + user.mode + '"]');
      if (radio && !radio.disabled) { radio.checked = true; state.mode = user.mode; }
    }
  }

  function selectUser(user) {
    state.openid = user.openid;
    state.after = 0;
    $("log").textContent = "";
    $("user-select").value = user.openid;
    setUser(user);
    var url = new URL(window.location.href);
    url.searchParams.set("openid", user.openid);
    window.history.replaceState(null, "", url.toString());
    return poll();
  }

  function fillUsers(users, selected) {
    var select = $("user-select");
    while (select.options.length > 1) { select.remove(1); }
    users.forEach(function (u) {
      var label = (u.nickname || "微信用户") + " · " + u.openid + (u.subscribed ? "" : " (未关注)");
      select.appendChild(el("option", { value: u.openid, text: label }));
    });
    select.value = selected || "";
  }

  function fillScanTargets(data, ticket) {
    var targets = [$("scan-target"), $("follow-via")];
    targets.forEach(function (select, index) {
      while (select.options.length > (index === 0 ? 0 : 1)) { select.remove(select.options.length - 1); }
      (data.distributors || []).forEach(function (d) {
        select.appendChild(el("option", { value: "d:" + d.id, text: "分销员 " + d.nickname + " (" + d.scene + ")" }));
      });
      (data.qr_codes || []).forEach(function (q) {
        var kind = q.permanent ? "永久" : "临时";
        select.appendChild(el("option", { value: "t:" + q.ticket, text: kind + "二维码 " + q.scene }));
      });
    });
    $("scan-target").appendChild(el("option", { value: "s:", text: "其他场景… other scene…" }));
    if (ticket) {
      var value = "t:" + ticket;
      if (!Array.prototype.some.call($("scan-target").options, function (o) { return o.value === value; })) {
        $("scan-target").appendChild(el("option", { value: value, text: "二维码 " + ticket.slice(0, 12) + "…" }));
      }
      $("scan-target").value = value;
    }
  }

  function fillMenu(menu) {
    var bar = $("menu");
    bar.textContent = "";
    (menu.button || []).forEach(function (button) {
      var slot = el("div", { className: "slot" });
      var top = el("button", { type: "button", className: "top", text: button.name });
      slot.appendChild(top);
      var children = button.sub_button || [];
      if (children.length) {
        var popup = el("div", { className: "popup", hidden: "hidden" });
        children.forEach(function (child) {
          var item = el("button", { type: "button", text: child.name });
          item.addEventListener("click", function () { popup.hidden = true; menuAction(child); });
          popup.appendChild(item);
        });
        slot.appendChild(popup);
        top.addEventListener("click", function () {
          var open = popup.hidden;
          Array.prototype.forEach.call(bar.querySelectorAll(".popup"), function (p) { p.hidden = true; });
          popup.hidden = !open;
        });
      } else {
        top.addEventListener("click", function () { menuAction(button); });
      }
      bar.appendChild(slot);
    });
  }

  function menuAction(button) {
    if (button.type === "click") {
      send({ kind: "click", key: button.key, name: button.name });
    } else if (button.type === "view" && safeUrl(button.url)) {
      window.open(button.url, "_blank", "noopener");
      send({ kind: "view", url: button.url });
    } else {
      status("沙箱不支持该菜单类型 · menu type not simulated: " + button.type);
    }
  }

  function send(payload) {
    if (!state.openid) { status("先选择用户 · pick a user first"); return Promise.resolve(); }
    payload.openid = state.openid;
    payload.mode = state.mode;
    status("");
    return api("POST", "send", payload)
      .then(function (data) { if (data.error) { status(data.error); } })
      .catch(function (err) { status(err.message); })
      .then(poll);
  }

  function sendText(text) {
    return send({ kind: "text", content: text });
  }

  function scanPayload(value) {
    if (value.indexOf("d:") === 0) { return { kind: "scan", distributor: value.slice(2) }; }
    if (value.indexOf("t:") === 0) { return { kind: "scan", ticket: value.slice(2) }; }
    var scene = window.prompt("场景值 scene (1-64 characters)", "dist_1");
    return scene ? { kind: "scan", scene: scene } : null;
  }

  function load() {
    var params = new URLSearchParams(window.location.search);
    var wanted = params.get("openid") || "";
    return api("GET", "state" + (wanted ? "?openid=" + encodeURIComponent(wanted) : ""))
      .then(function (data) {
        fillUsers(data.users || [], data.user ? data.user.openid : "");
        fillScanTargets(data, params.get("ticket"));
        fillMenu(data.menu || { button: [] });
        if (data.user) { return selectUser(data.user); }
        setUser(null);
      })
      .catch(function (err) { status(err.message); });
  }

  $("user-select").addEventListener("change", function (event) {
    var openid = event.target.value;
    if (!openid) { return; }
    api("POST", "select", { openid: openid })
      .then(function (data) { return selectUser(data.user); })
      .catch(function (err) { status(err.message); });
  });

  $("new-user").addEventListener("submit", function (event) {
    event.preventDefault();
    var via = $("follow-via").value;
    api("POST", "users", { nickname: $("nickname").value })
      .then(function (data) {
        $("user-select").appendChild(el("option", { value: data.user.openid, text: (data.user.nickname || "微信用户") + " · " + data.user.openid }));
        $("nickname").value = "";
        return selectUser(data.user).then(function () {
          return send(via ? scanPayload(via) : { kind: "subscribe" });
        });
      })
      .catch(function (err) { status(err.message); });
  });

  $("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("text").value;
    if (!text.trim()) { return; }
    $("text").value = "";
    sendText(text);
  });

  $("follow").addEventListener("click", function () { send({ kind: "subscribe" }); });
  $("unfollow").addEventListener("click", function () { send({ kind: "unsubscribe" }); });
  $("scan").addEventListener("click", function () {
    var payload = scanPayload($("scan-target").value || "s:");
    if (payload) { send(payload); }
  });
  $("send-location").addEventListener("click", function () { send({ kind: "location" }); });
  $("send-image").addEventListener("click", function () { send({ kind: "image" }); });
  $("retry").addEventListener("click", function () { send({ kind: "retry" }); });
  Array.prototype.forEach.call(document.querySelectorAll("input[name=mode]"), function (radio) {
    radio.addEventListener("change", function () { if (radio.checked) { state.mode = radio.value; } });
  });

  load();
  window.setInterval(poll, POLL_MS);
})();
