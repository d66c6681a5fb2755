"""Every user-facing text of the booking bot, Russian and English, in one place.

Why one module: translators and the owner's guide read one file; a test
checks both languages have the same keys and that every key the code uses
exists. Texts are Telegram HTML; values substituted into them are escaped
unless wrapped in ``Html`` (fragments this module or the code built safely),
so a client named "<b>" cannot break a message.
"""

from __future__ import annotations

import html
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

LANGUAGES = ("ru", "en")
MAX_TEXT = 4096


class Html(str):
    """A string already safe for Telegram HTML; ``Tr`` inserts it without escaping."""

    __slots__ = ()


def esc(value: object) -> Html:
    """Escape any value for Telegram HTML."""
    return Html(html.escape(str(value), quote=False))


RU: dict[str, str] = {
    # Main menu and common
    "btn_book": "📅 Записаться",
    "btn_my": "🗂 Мои записи",
    "btn_lang": "🌐 English",
    "btn_admin": "⚙️ Управление",
    "btn_back": "⬅️ Назад",
    "btn_cancel": "✖️ Отмена",
    "btn_close": "✖️ Закрыть",
    "btn_menu": "🏠 Меню",
    "welcome": "Здравствуйте, {name}! Это бот записи в <b>{company}</b>.\n\n"
    "Нажмите «📅 Записаться», чтобы выбрать услугу, мастера и время, или «🗂 Мои записи», "
    "чтобы посмотреть, перенести или отменить запись.",
    "welcome_admin": "\n\nВы администратор: «⚙️ Управление» или /admin откроет панель владельца.",
    "help": "Что я умею:\n📅 /book — записаться\n🗂 /my — мои записи (перенос и отмена)\n"
    "🌐 /lang — язык\n✖️ /cancel — прервать текущее действие",
    "help_admin": "\n⚙️ /admin — панель владельца",
    "lang_set": "Язык: русский.",
    "cancelled_action": "Хорошо, действие прервано.",
    "nothing_to_cancel": "Сейчас нечего прерывать.",
    "fallback_text": "Я не понял сообщение. Пожалуйста, пользуйтесь кнопками ниже или командами: "
    "/book — записаться, /my — мои записи, /help — помощь.",
    "fallback_in_flow": "Сейчас я жду нажатия кнопки в сообщении выше. "
    "Выберите вариант там или нажмите /cancel, чтобы начать заново.",
    "unknown_command": "Такой команды нет. Доступно: /book, /my, /lang, /help.",
    "stale_button": "Это меню устарело. Нажмите «📅 Записаться» или /my, чтобы открыть актуальное.",
    "too_long": "Сообщение слишком длинное (до {limit} символов). Сократите, пожалуйста.",
    "error": "Что-то пошло не так, мы уже разбираемся. Попробуйте ещё раз или нажмите /cancel.",
    "not_text": "Пожалуйста, отправьте текст.",
    "blacklisted": "Онлайн-запись для вас недоступна. Пожалуйста, свяжитесь с салоном.",
    # Booking flow
    "choose_services": "<b>Шаг 1 из 4.</b> Выберите услугу (можно несколько за один визит), затем «Далее».",
    "selected": "\n\nВыбрано: {items}\nДлительность: {duration}, стоимость: {price}",
    "no_services": "Пока нет услуг для записи. Загляните позже!",
    "btn_next": "Далее ➡️",
    "pick_service_first": "Сначала выберите хотя бы одну услугу.",
    "no_master_for_all": "Нет мастера, который делает все выбранные услуги. Уберите одну из них.",
    "choose_master": "<b>Шаг 2 из 4.</b> {title}\nВыберите мастера:",
    "any_master": "👥 Любой мастер",
    "choose_day": "<b>Шаг 3 из 4.</b> {title}, мастер: {master}\nВыберите день. Числа — свободные дни, «·» — нет мест.",
    "no_days": "\n\nВ этом месяце свободных дней нет — посмотрите следующий.",
    "choose_time": "<b>Шаг 4 из 4.</b> {title}, мастер: {master}\n{day}: выберите время.",
    "no_times": "\n\nНа этот день свободного времени не осталось.",
    "slot_taken": "Это время только что заняли. Выберите другое.",
    "confirm_booking": "Проверьте запись:\n\n💇 {title}\n👤 Мастер: {master}\n🕒 {when}\n"
    "⏱ {duration}\n💰 {price}\n\nВремя удерживается за вами {minutes} мин.",
    "btn_confirm": "✅ Подтвердить",
    "btn_other_time": "⬅️ Другое время",
    "booked": "✅ Готово! Вы записаны.\n\n💇 {title}\n👤 Мастер: {master}\n🕒 {when}\n💰 {price}\n\n"
    "Я напомню о визите заранее. Перенести или отменить: «🗂 Мои записи».",
    "booked_pending": "📝 Заявка отправлена, администратор подтвердит её в ближайшее время.\n\n"
    "💇 {title}\n👤 Мастер: {master}\n🕒 {when}\n💰 {price}",
    "hold_lost": "Время удерживалось {minutes} мин и уже занято другим клиентом. Выберите другое время.",
    "too_late": "До этого времени осталось слишком мало, запись уже невозможна. Выберите другое время.",
    "too_many": "У вас уже {count} активных записей — это максимум. Отмените одну из них, чтобы записаться снова.",
    "flow_aborted": "Хорошо, запись не создана.",
    # My bookings
    "my_title": "🗂 <b>Ваши записи</b>",
    "my_empty": "У вас нет предстоящих записей. Нажмите «📅 Записаться».",
    "my_line": "• {when} — {title} ({master}){status}",
    "status_pending": " — ждёт подтверждения",
    "booking_card": "💇 {title}\n👤 Мастер: {master}\n🕒 {when}\n⏱ {duration}\n💰 {price}\nСтатус: {status}",
    "status_held": "удерживается",
    "status_pending_word": "ждёт подтверждения",
    "status_confirmed": "подтверждена",
    "status_cancelled": "отменена",
    "status_no_show": "неявка",
    "cutoff_note": "\n\nПеренос и отмена возможны не позднее чем за {cutoff} до визита. "
    "Сейчас — только по звонку в салон.",
    "btn_reschedule": "🔁 Перенести",
    "btn_cancel_booking": "❌ Отменить запись",
    "btn_yes_cancel": "Да, отменить",
    "btn_keep": "Нет, оставить",
    "ask_cancel": "Отменить запись?\n\n💇 {title}\n🕒 {when}",
    "cancelled_ok": "Запись отменена: {title}, {when}.",
    "booking_gone": "Эта запись уже неактуальна (отменена или прошла).",
    "cutoff_passed": "До визита меньше {cutoff}: перенести или отменить можно только по звонку в салон.",
    "choose_new_day": "Перенос записи: {title}, мастер: {master}\nСейчас: {when}\n"
    "Выберите новый день. Числа — свободные дни, «·» — нет мест.",
    "confirm_move": "Перенести запись?\n\n💇 {title}\n👤 Мастер: {master}\nБыло: {old}\nСтанет: <b>{new}</b>",
    "btn_move": "✅ Перенести",
    "moved_ok": "✅ Запись перенесена на {when}.",
    # Reminders and rating
    "reminder": "⏰ Напоминание о записи — {company}\n🕒 {when}\n💇 {title}\n👤 Мастер: {master}\n\n"
    "Если планы изменились — «🗂 Мои записи».",
    "rate_ask": "Спасибо за визит — {company}! Оцените, пожалуйста: {title}, мастер {master}.",
    "rated": "Спасибо за оценку {stars}!",
    "rate_done": "Оценка уже сохранена, спасибо!",
    # Notifications to the client from the owner's side
    "n_client_approved": "✅ Ваша запись подтверждена: {title}, {when}, мастер {master}.",
    "n_client_declined": "😔 Салон не смог подтвердить запись: {title}, {when}. Выберите другое время: /book",
    "n_client_cancelled_by_salon": "❗️ Салон отменил вашу запись: {title}, {when}. "
    "Приносим извинения! Выберите другое время: /book",
    "n_client_moved_by_salon": "🔁 Салон перенёс вашу запись: {title}, мастер {master}. Новое время: {when}.",
    "n_client_booked_by_salon": "✅ Салон записал вас: {title}, {when}, мастер {master}.",
    "broadcast_header": "📣 <b>{company}</b>\n\n{text}",
    # Owner alerts
    "a_new": "🆕 Новая запись\n👤 {client}\n💇 {title}\n✂️ Мастер: {master}\n🕒 {when}\n💰 {price}",
    "a_pending": "📝 Заявка ждёт подтверждения\n👤 {client}\n💇 {title}\n✂️ Мастер: {master}\n🕒 {when}",
    "a_cancelled": "❌ Клиент отменил запись\n👤 {client}\n💇 {title}\n✂️ Мастер: {master}\n🕒 {when}",
    "a_moved": "🔁 Клиент перенёс запись\n👤 {client}\n💇 {title}\n✂️ Мастер: {master}\nБыло: {old}\nСтало: {new}",
    "a_manual": "🆕 {admin} записал клиента\n👤 {client}\n💇 {title}\n✂️ Мастер: {master}\n🕒 {when}",
    "btn_open": "Открыть",
    "btn_approve": "✅ Подтвердить",
    "btn_decline": "❌ Отклонить",
    # Admin: menu and schedule
    "not_admin": "Эта функция только для администраторов салона.",
    "admin_menu": "⚙️ <b>Управление — {company}</b>\nСегодня: {today}. Записей сегодня: {count}.{pending}",
    "admin_pending_line": "\n⏳ Ждут подтверждения: {count}",
    "ab_today": "📅 Сегодня",
    "ab_week": "🗓 Неделя",
    "ab_book": "➕ Записать клиента",
    "ab_pending": "⏳ Заявки",
    "ab_services": "💇 Услуги",
    "ab_masters": "✂️ Мастера",
    "ab_blocks": "⛔ Блокировки",
    "ab_settings": "🔧 Настройки",
    "ab_clients": "👥 Клиенты",
    "ab_broadcast": "📣 Рассылка",
    "ab_stats": "📊 Аналитика",
    "ab_export": "📤 Выгрузка CSV",
    "ab_admins": "🔑 Администраторы",
    "day_title": "📅 <b>{day}</b>",
    "day_empty": "\nЗаписей нет.",
    "day_master": "\n<b>{master}</b>",
    "day_line": "{time} {client} — {title}{mark}",
    "mark_pending": " ⏳",
    "mark_no_show": " 🚫",
    "week_title": "🗓 <b>Неделя {first} — {last}</b>",
    "week_day": "\n<b>{day}</b>: {count} зап.",
    "admin_booking": "📋 <b>Запись #{id}</b>\n👤 {client}{phone}\n💇 {title}\n✂️ Мастер: {master}\n🕒 {when}\n"
    "💰 {price}\nСтатус: {status}{source}",
    "source_admin": "\nЗаписал администратор",
    "btn_no_show": "🚫 Неявка",
    "btn_client_card": "👤 Карточка клиента",
    "btn_admin_cancel": "❌ Отменить",
    "btn_admin_move": "🔁 Перенести",
    "admin_ask_cancel": "Отменить запись #{id}? Клиент получит уведомление.",
    "admin_cancelled": "Запись #{id} отменена, клиент уведомлён.",
    "no_show_marked": "Отмечено: неявка.",
    "no_show_not_yet": "Неявку можно отметить только после начала визита подтверждённой записи.",
    "pending_title": "⏳ <b>Заявки на подтверждение</b>",
    "pending_empty": "Заявок нет.",
    "approved": "Запись #{id} подтверждена, клиент уведомлён.",
    "declined": "Запись #{id} отклонена, клиент уведомлён.",
    "already_handled": "Эта заявка уже обработана.",
    # Admin: manual booking
    "manual_services": "➕ <b>Запись клиента.</b> Выберите услуги, затем «Далее».",
    "manual_client": "Время удерживается: {when}, {title}, мастер {master}.\n\n"
    "Отправьте имя и телефон клиента одним сообщением, например:\n<code>Анна +7 999 123-45-67</code>",
    "manual_done": "✅ Клиент записан: {client}, {title}, {when}, мастер {master}.",
    # Admin: services
    "services_title": "💇 <b>Услуги</b> (❌ — скрыта от клиентов)",
    "services_empty": "Услуг пока нет. Добавьте первую.",
    "btn_add": "➕ Добавить",
    "service_card": "💇 <b>{name}</b>\nКатегория: {category}\nДлительность: {duration}\nЦена: {price}\n{active}",
    "service_active": "Видна клиентам",
    "service_inactive": "Скрыта от клиентов",
    "btn_rename": "✏️ Название",
    "btn_duration": "⏱ Длительность",
    "btn_price": "💰 Цена",
    "btn_category": "🏷 Категория",
    "btn_hide": "🙈 Скрыть",
    "btn_show": "👁 Показать",
    "ask_service": "Отправьте услугу одной строкой:\n<code>Название; минуты; цена; категория</code>\n"
    "Например: <code>Стрижка; 60; 1500-2500; Волосы</code> (категория необязательна).",
    "ask_name": "Отправьте новое название.",
    "ask_duration": "Отправьте длительность в минутах (например 90 или 1:30).",
    "ask_price": "Отправьте цену: <code>1500</code> или диапазон <code>1500-2500</code>.",
    "ask_category": "Отправьте категорию (или «-», чтобы убрать).",
    "service_saved": "Сохранено.",
    "service_added": "Услуга «{name}» добавлена. Не забудьте отметить её у мастеров (✂️ Мастера → Услуги).",
    "no_category": "без категории",
    # Admin: masters
    "masters_title": "✂️ <b>Мастера</b> (❌ — не принимает записи)",
    "masters_empty": "Мастеров пока нет. Добавьте первого.",
    "master_card": "✂️ <b>{name}</b>{inactive}\n\n<b>Услуги:</b> {services}\n\n<b>Часы работы:</b>\n{hours}\n\n"
    "<b>Перерывы:</b>\n{breaks}",
    "master_inactive": " (не принимает записи)",
    "none": "нет",
    "day_off_word": "выходной",
    "btn_services": "💇 Услуги",
    "btn_hours": "🕒 Часы",
    "btn_breaks": "☕ Перерывы",
    "btn_days_off": "🏖 Выходные дни",
    "btn_deactivate": "⏸ Не принимает",
    "btn_activate": "▶️ Принимает",
    "ask_master": "Отправьте имя мастера.",
    "master_added": "Мастер «{name}» добавлен. Теперь укажите его услуги и часы работы.",
    "master_services": "Услуги мастера <b>{name}</b> (✅ — выполняет):",
    "ask_hours": "Отправьте часы работы, по строке на правило:\n"
    "<code>Пн-Пт 10:00-19:00\nСб 11:00-16:00\nВс выходной</code>\n"
    "Неупомянутые дни не меняются. Несколько интервалов в строке — перерывы между ними.",
    "ask_breaks": "Отправьте перерывы, по строке на правило:\n<code>Пн-Пт 13:00-14:00</code>\n"
    "«<code>Пн-Вс -</code>» — убрать перерывы.",
    "hours_saved": "Часы сохранены.",
    "days_off_title": "🏖 <b>Выходные дни: {name}</b>\n{items}\n\nЧтобы добавить, отправьте дату или период: "
    "<code>15.03</code>, <code>15.03-20.03</code>. Записи в эти дни будут отменены, клиенты уведомлены.",
    # Admin: blocks
    "blocks_title": "⛔ <b>Блокировки и выходные</b>\n{items}\n\nЗаблокировать время для всех мастеров или для одного:",
    "blocks_empty": "нет",
    "btn_block_all": "⛔ Для всех",
    "ask_block": "Что заблокировать ({who})? Отправьте дату, период или время:\n"
    "<code>15.03</code> — весь день, <code>15.03-17.03</code> — период, "
    "<code>15.03 14:00-16:00</code> — часть дня.\nЗаписи в это время будут отменены, клиенты уведомлены.",
    "all_masters": "все мастера",
    "blocked": "⛔ Заблокировано: {what}. Отменено записей: {count}, клиенты уведомлены.",
    "off_removed": "Удалено.",
    "off_line": "• {what} — {who}",
    # Admin: settings
    "settings_title": "🔧 <b>Настройки записи</b>\n"
    "Шаг сетки: {step} мин\nБуфер до / после: {bb} / {ba} мин\nГоризонт записи: {horizon} дн.\n"
    "Минимум до записи: {notice}\nОтмена/перенос клиентом: не позднее чем за {cutoff}\n"
    "Удержание слота: {hold} мин\nПодтверждение: {auto}\nНапоминания: {reminders}\n"
    "Оценка после визита: {rating}\nМакс. активных записей клиента: {max_active}\nЧасовой пояс: {tz}",
    "auto_on": "автоматически",
    "auto_off": "вручную администратором",
    "rating_off": "не спрашивать",
    "rating_after": "через {after}",
    "sb_step": "Шаг",
    "sb_buffers": "Буферы",
    "sb_horizon": "Горизонт",
    "sb_notice": "Минимум до записи",
    "sb_cutoff": "Отмена/перенос",
    "sb_hold": "Удержание",
    "sb_auto": "Подтверждение",
    "sb_reminders": "Напоминания",
    "sb_rating": "Оценка",
    "sb_max_active": "Лимит записей",
    "ask_setting_minutes": "Отправьте значение: минуты (<code>90</code>), часы (<code>24h</code>/<code>24ч</code>) "
    "или дни (<code>2d</code>). Допустимо: {low}–{high} мин.",
    "ask_setting_number": "Отправьте число от {low} до {high}.",
    "ask_buffers": "Отправьте буферы до и после визита в минутах, например <code>0 10</code>.",
    "ask_reminders": "Когда напоминать до визита? Например <code>24h, 2h</code>; «off» — не напоминать.",
    "setting_saved": "Сохранено.",
    "setting_bad": "Значение вне допустимого диапазона {low}–{high}.",
    # Admin: clients
    "clients_title": "👥 <b>Клиенты</b>\nОтправьте имя, @username или часть телефона для поиска. Недавние:",
    "clients_found": "👥 Найдено по «{query}»:",
    "clients_none": "Никого не нашлось по «{query}».",
    "client_card": "👤 <b>{name}</b>{username}\n📞 {phone}\n📝 {notes}\n\nВизитов: {visits}, предстоит: {upcoming}, "
    "отмен: {cancelled}, неявок: {no_shows}\nПотрачено: {spent}{blacklisted}\n\n<b>История:</b>\n{history}",
    "client_blacklisted": "\n🚫 Онлайн-запись запрещена",
    "no_phone": "не указан",
    "no_notes": "нет заметок",
    "history_line": "{when} — {title} ({master}), {status}",
    "btn_phone": "📞 Телефон",
    "btn_notes": "📝 Заметка",
    "btn_blacklist": "🚫 Запретить запись",
    "btn_unblacklist": "✅ Разрешить запись",
    "ask_phone": "Отправьте телефон клиента (или «-», чтобы удалить).",
    "ask_notes": "Отправьте заметку о клиенте (до 1000 символов; «-» — очистить).",
    "client_saved": "Сохранено.",
    # Admin: broadcast, stats, export, admins
    "ask_broadcast": "Отправьте текст рассылки (до {limit} символов). Его получат все клиенты бота.",
    "broadcast_preview": "Так увидят сообщение клиенты ({count} чел.):\n\n{preview}",
    "btn_send": "📣 Отправить",
    "broadcast_queued": "Рассылка поставлена в очередь (получателей: {count}). "
    "Сообщения уйдут в течение нескольких минут.",
    "stats_title": "📊 <b>Аналитика {first} — {last}</b>\n"
    "Записей: {bookings}\nОтмен: {cancelled}\nНеявок: {no_shows} ({no_show_pct}%)\n"
    "Выручка (прошедшие визиты): {revenue}\nОжидается: {expected}\nЗагрузка мастеров: {load}%\n"
    "Новых клиентов: {new_clients}\nСредняя оценка: {rating}\n\n<b>Популярные услуги:</b>\n{top}",
    "btn_7d": "7 дней",
    "btn_30d": "30 дней",
    "btn_month": "Этот месяц",
    "btn_year": "Год",
    "no_ratings": "нет оценок",
    "export_caption": "📤 Записи {first} — {last}: {count} строк.",
    "export_failed": "Не удалось отправить файл. Попробуйте позже.",
    "admins_title": "🔑 <b>Администраторы</b>\nВладелец: <code>{owner}</code>\n{items}",
    "admins_only_owner": "Добавлять и удалять администраторов может только владелец.",
    "ask_admin": "Отправьте Telegram ID нового администратора (число; его можно узнать у @userinfobot). "
    "Он должен хотя бы раз написать этому боту.",
    "admin_added": "Администратор {id} добавлен.",
    "admin_exists": "Этот пользователь уже администратор.",
    "admin_removed": "Администратор {id} удалён.",
    # Parse hints
    "err_time": "Не понял время. Пример: <code>10:00-19:00</code>.",
    "err_weekdays": "Не понял дни недели. Пример: <code>Пн-Пт</code>, <code>Сб</code>, <code>Mon,Wed</code>.",
    "err_hours": "Не понял расписание. Пример: <code>Пн-Пт 10:00-19:00</code> или <code>Вс выходной</code>.",
    "err_one_range": "Для часов работы укажите один интервал в день (перерывы — отдельно) или несколько "
    "без пересечений.",
    "err_date": "Не понял дату. Пример: <code>15.03</code> или <code>2025-03-15</code>.",
    "err_block": "Не понял. Пример: <code>15.03</code>, <code>15.03-17.03</code> или <code>15.03 14:00-16:00</code>.",
    "err_minutes": "Не понял длительность. Пример: <code>90</code>, <code>1:30</code>, <code>24h</code>.",
    "err_offsets": "Не понял. Пример: <code>24h, 2h</code> (до 5 значений) или <code>off</code>.",
    "err_price": "Не понял цену. Пример: <code>1500</code> или <code>1500-2500</code>.",
    "err_service": "Нужно 3–4 части через «;»: <code>Название; минуты; цена; категория</code>.",
    "err_duration": "Длительность должна быть от 5 до 720 минут.",
    "err_name": "Название должно быть от 1 до 64 символов.",
    "err_client": "Отправьте имя и/или телефон клиента.",
    "err_phone": "Не понял телефон: нужно от 7 до 15 цифр.",
    "err_tg_id": "Telegram ID — это число, например <code>123456789</code>.",
    "err_too_long": "Слишком длинный текст.",
    "err_past": "Эта дата уже прошла.",
    # Units and words
    "minutes_short": "{n} мин",
    "hours_short": "{n} ч",
    "days_short": "{n} дн.",
    "price_free": "бесплатно",
    "price_from_to": "{low}–{high} ₽",
    "price_one": "{value} ₽",
    "yes": "да",
    "no": "нет",
}

EN: dict[str, str] = {
    "btn_book": "📅 Book",
    "btn_my": "🗂 My bookings",
    "btn_lang": "🌐 Русский",
    "btn_admin": "⚙️ Manage",
    "btn_back": "⬅️ Back",
    "btn_cancel": "✖️ Cancel",
    "btn_close": "✖️ Close",
    "btn_menu": "🏠 Menu",
    "welcome": "Hello, {name}! This is the booking bot of <b>{company}</b>.\n\n"
    "Tap “📅 Book” to choose a service, a master and a time, or “🗂 My bookings” "
    "to see, move or cancel a booking.",
    "welcome_admin": "\n\nYou are an admin: “⚙️ Manage” or /admin opens the owner's panel.",
    "help": "What I can do:\n📅 /book — make a booking\n🗂 /my — my bookings (move and cancel)\n"
    "🌐 /lang — language\n✖️ /cancel — stop the current action",
    "help_admin": "\n⚙️ /admin — owner's panel",
    "lang_set": "Language: English.",
    "cancelled_action": "OK, stopped.",
    "nothing_to_cancel": "There is nothing to stop right now.",
    "fallback_text": "I did not understand that. Please use the buttons below or the commands: "
    "/book — make a booking, /my — my bookings, /help — help.",
    "fallback_in_flow": "I am waiting for a button in the message above. "
    "Choose an option there, or tap /cancel to start over.",
    "unknown_command": "There is no such command. Available: /book, /my, /lang, /help.",
    "stale_button": "This menu is out of date. Tap “📅 Book” or /my to open a current one.",
    "too_long": "That message is too long (up to {limit} characters). Please shorten it.",
    "error": "Something went wrong, we are looking into it. Please try again or tap /cancel.",
    "not_text": "Please send text.",
    "blacklisted": "Online booking is not available for you. Please contact the salon.",
    "choose_services": "<b>Step 1 of 4.</b> Choose a service (several in one visit are fine), then “Next”.",
    "selected": "\n\nSelected: {items}\nDuration: {duration}, price: {price}",
    "no_services": "There is nothing to book yet. Please come back later!",
    "btn_next": "Next ➡️",
    "pick_service_first": "Choose at least one service first.",
    "no_master_for_all": "No master does all the selected services. Remove one of them.",
    "choose_master": "<b>Step 2 of 4.</b> {title}\nChoose a master:",
    "any_master": "👥 Any master",
    "choose_day": "<b>Step 3 of 4.</b> {title}, master: {master}\n"
    "Choose a day. Numbers are days with free time, “·” means fully booked.",
    "no_days": "\n\nNo free days this month — look at the next one.",
    "choose_time": "<b>Step 4 of 4.</b> {title}, master: {master}\n{day}: choose a time.",
    "no_times": "\n\nNo free time is left on this day.",
    "slot_taken": "That time was just taken. Please choose another.",
    "confirm_booking": "Please check your booking:\n\n💇 {title}\n👤 Master: {master}\n🕒 {when}\n"
    "⏱ {duration}\n💰 {price}\n\nThe time is held for you for {minutes} min.",
    "btn_confirm": "✅ Confirm",
    "btn_other_time": "⬅️ Another time",
    "booked": "✅ Done! You are booked.\n\n💇 {title}\n👤 Master: {master}\n🕒 {when}\n💰 {price}\n\n"
    "I will remind you before the visit. To move or cancel: “🗂 My bookings”.",
    "booked_pending": "📝 Request sent; an admin will confirm it shortly.\n\n"
    "💇 {title}\n👤 Master: {master}\n🕒 {when}\n💰 {price}",
    "hold_lost": "The time was held for {minutes} min and has been taken by another client. "
    "Please choose another time.",
    "too_late": "That time is too close now; it can no longer be booked. Please choose another time.",
    "too_many": "You already have {count} active bookings, the maximum. Cancel one to book again.",
    "flow_aborted": "OK, nothing was booked.",
    "my_title": "🗂 <b>Your bookings</b>",
    "my_empty": "You have no upcoming bookings. Tap “📅 Book”.",
    "my_line": "• {when} — {title} ({master}){status}",
    "status_pending": " — awaiting confirmation",
    "booking_card": "💇 {title}\n👤 Master: {master}\n🕒 {when}\n⏱ {duration}\n💰 {price}\nStatus: {status}",
    "status_held": "held",
    "status_pending_word": "awaiting confirmation",
    "status_confirmed": "confirmed",
    "status_cancelled": "cancelled",
    "status_no_show": "no-show",
    "cutoff_note": "\n\nMoving and cancelling are possible up to {cutoff} before the visit. "
    "Now only by calling the salon.",
    "btn_reschedule": "🔁 Move",
    "btn_cancel_booking": "❌ Cancel booking",
    "btn_yes_cancel": "Yes, cancel",
    "btn_keep": "No, keep it",
    "ask_cancel": "Cancel this booking?\n\n💇 {title}\n🕒 {when}",
    "cancelled_ok": "Booking cancelled: {title}, {when}.",
    "booking_gone": "This booking is no longer current (cancelled or past).",
    "cutoff_passed": "Less than {cutoff} before the visit: it can only be moved or cancelled by calling the salon.",
    "choose_new_day": "Moving: {title}, master: {master}\nNow: {when}\n"
    "Choose a new day. Numbers are days with free time, “·” means fully booked.",
    "confirm_move": "Move this booking?\n\n💇 {title}\n👤 Master: {master}\nWas: {old}\nWill be: <b>{new}</b>",
    "btn_move": "✅ Move",
    "moved_ok": "✅ Booking moved to {when}.",
    "reminder": "⏰ Booking reminder — {company}\n🕒 {when}\n💇 {title}\n👤 Master: {master}\n\n"
    "Plans changed? “🗂 My bookings”.",
    "rate_ask": "Thank you for your visit — {company}! Please rate it: {title}, master {master}.",
    "rated": "Thank you for your rating {stars}!",
    "rate_done": "Your rating is already saved, thank you!",
    "n_client_approved": "✅ Your booking is confirmed: {title}, {when}, master {master}.",
    "n_client_declined": "😔 The salon could not confirm your booking: {title}, {when}. "
    "Please choose another time: /book",
    "n_client_cancelled_by_salon": "❗️ The salon cancelled your booking: {title}, {when}. "
    "We apologise! Please choose another time: /book",
    "n_client_moved_by_salon": "🔁 The salon moved your booking: {title}, master {master}. New time: {when}.",
    "n_client_booked_by_salon": "✅ The salon booked you: {title}, {when}, master {master}.",
    "broadcast_header": "📣 <b>{company}</b>\n\n{text}",
    "a_new": "🆕 New booking\n👤 {client}\n💇 {title}\n✂️ Master: {master}\n🕒 {when}\n💰 {price}",
    "a_pending": "📝 Request awaiting approval\n👤 {client}\n💇 {title}\n✂️ Master: {master}\n🕒 {when}",
    "a_cancelled": "❌ Client cancelled\n👤 {client}\n💇 {title}\n✂️ Master: {master}\n🕒 {when}",
    "a_moved": "🔁 Client moved a booking\n👤 {client}\n💇 {title}\n✂️ Master: {master}\nWas: {old}\nNow: {new}",
    "a_manual": "🆕 {admin} booked a client\n👤 {client}\n💇 {title}\n✂️ Master: {master}\n🕒 {when}",
    "btn_open": "Open",
    "btn_approve": "✅ Approve",
    "btn_decline": "❌ Decline",
    "not_admin": "This is only for the salon's admins.",
    "admin_menu": "⚙️ <b>Manage — {company}</b>\nToday: {today}. Bookings today: {count}.{pending}",
    "admin_pending_line": "\n⏳ Awaiting approval: {count}",
    "ab_today": "📅 Today",
    "ab_week": "🗓 Week",
    "ab_book": "➕ Book a client",
    "ab_pending": "⏳ Requests",
    "ab_services": "💇 Services",
    "ab_masters": "✂️ Masters",
    "ab_blocks": "⛔ Blocks",
    "ab_settings": "🔧 Settings",
    "ab_clients": "👥 Clients",
    "ab_broadcast": "📣 Broadcast",
    "ab_stats": "📊 Analytics",
    "ab_export": "📤 CSV export",
    "ab_admins": "🔑 Admins",
    "day_title": "📅 <b>{day}</b>",
    "day_empty": "\nNo bookings.",
    "day_master": "\n<b>{master}</b>",
    "day_line": "{time} {client} — {title}{mark}",
    "mark_pending": " ⏳",
    "mark_no_show": " 🚫",
    "week_title": "🗓 <b>Week {first} — {last}</b>",
    "week_day": "\n<b>{day}</b>: {count} bookings",
    "admin_booking": "📋 <b>Booking #{id}</b>\n👤 {client}{phone}\n💇 {title}\n✂️ Master: {master}\n🕒 {when}\n"
    "💰 {price}\nStatus: {status}{source}",
    "source_admin": "\nBooked by an admin",
    "btn_no_show": "🚫 No-show",
    "btn_client_card": "👤 Client card",
    "btn_admin_cancel": "❌ Cancel",
    "btn_admin_move": "🔁 Move",
    "admin_ask_cancel": "Cancel booking #{id}? The client will be notified.",
    "admin_cancelled": "Booking #{id} cancelled; the client was notified.",
    "no_show_marked": "Marked as a no-show.",
    "no_show_not_yet": "A no-show can be marked only after a confirmed visit has started.",
    "pending_title": "⏳ <b>Requests awaiting approval</b>",
    "pending_empty": "No requests.",
    "approved": "Booking #{id} approved; the client was notified.",
    "declined": "Booking #{id} declined; the client was notified.",
    "already_handled": "This request has already been handled.",
    "manual_services": "➕ <b>Book a client.</b> Choose services, then “Next”.",
    "manual_client": "The time is held: {when}, {title}, master {master}.\n\n"
    "Send the client's name and phone in one message, e.g.:\n<code>Anna +44 7700 900123</code>",
    "manual_done": "✅ Client booked: {client}, {title}, {when}, master {master}.",
    "services_title": "💇 <b>Services</b> (❌ — hidden from clients)",
    "services_empty": "No services yet. Add the first one.",
    "btn_add": "➕ Add",
    "service_card": "💇 <b>{name}</b>\nCategory: {category}\nDuration: {duration}\nPrice: {price}\n{active}",
    "service_active": "Visible to clients",
    "service_inactive": "Hidden from clients",
    "btn_rename": "✏️ Name",
    "btn_duration": "⏱ Duration",
    "btn_price": "💰 Price",
    "btn_category": "🏷 Category",
    "btn_hide": "🙈 Hide",
    "btn_show": "👁 Show",
    "ask_service": "Send the service in one line:\n<code>Name; minutes; price; category</code>\n"
    "For example: <code>Haircut; 60; 1500-2500; Hair</code> (the category is optional).",
    "ask_name": "Send the new name.",
    "ask_duration": "Send the duration in minutes (e.g. 90 or 1:30).",
    "ask_price": "Send the price: <code>1500</code> or a range <code>1500-2500</code>.",
    "ask_category": "Send the category (or “-” to remove it).",
    "service_saved": "Saved.",
    "service_added": "Service “{name}” added. Remember to tick it for masters (✂️ Masters → Services).",
    "no_category": "no category",
    "masters_title": "✂️ <b>Masters</b> (❌ — not taking bookings)",
    "masters_empty": "No masters yet. Add the first one.",
    "master_card": "✂️ <b>{name}</b>{inactive}\n\n<b>Services:</b> {services}\n\n<b>Working hours:</b>\n{hours}\n\n"
    "<b>Breaks:</b>\n{breaks}",
    "master_inactive": " (not taking bookings)",
    "none": "none",
    "day_off_word": "day off",
    "btn_services": "💇 Services",
    "btn_hours": "🕒 Hours",
    "btn_breaks": "☕ Breaks",
    "btn_days_off": "🏖 Days off",
    "btn_deactivate": "⏸ Stop bookings",
    "btn_activate": "▶️ Take bookings",
    "ask_master": "Send the master's name.",
    "master_added": "Master “{name}” added. Now set their services and working hours.",
    "master_services": "Services of <b>{name}</b> (✅ — performs):",
    "ask_hours": "Send working hours, one rule per line:\n<code>Mon-Fri 10:00-19:00\nSat 11:00-16:00\nSun off</code>\n"
    "Days not mentioned stay as they are. Several ranges in a line make breaks between them.",
    "ask_breaks": "Send breaks, one rule per line:\n<code>Mon-Fri 13:00-14:00</code>\n"
    "“<code>Mon-Sun -</code>” removes the breaks.",
    "hours_saved": "Hours saved.",
    "days_off_title": "🏖 <b>Days off: {name}</b>\n{items}\n\nTo add one, send a date or a period: "
    "<code>15.03</code>, <code>15.03-20.03</code>. Bookings on those days are cancelled and clients notified.",
    "blocks_title": "⛔ <b>Blocks and days off</b>\n{items}\n\nBlock time for all masters or for one:",
    "blocks_empty": "none",
    "btn_block_all": "⛔ For everyone",
    "ask_block": "What to block ({who})? Send a date, a period or a time:\n"
    "<code>15.03</code> — the whole day, <code>15.03-17.03</code> — a period, "
    "<code>15.03 14:00-16:00</code> — part of a day.\nBookings in that time are cancelled and clients notified.",
    "all_masters": "all masters",
    "blocked": "⛔ Blocked: {what}. Bookings cancelled: {count}; clients notified.",
    "off_removed": "Removed.",
    "off_line": "• {what} — {who}",
    "settings_title": "🔧 <b>Booking settings</b>\n"
    "Slot step: {step} min\nBuffer before / after: {bb} / {ba} min\nBooking horizon: {horizon} days\n"
    "Minimum notice: {notice}\nClient cancel/move: up to {cutoff} before\n"
    "Slot hold: {hold} min\nConfirmation: {auto}\nReminders: {reminders}\n"
    "Rating after the visit: {rating}\nMax active bookings per client: {max_active}\nTime zone: {tz}",
    "auto_on": "automatic",
    "auto_off": "manual, by an admin",
    "rating_off": "do not ask",
    "rating_after": "after {after}",
    "sb_step": "Step",
    "sb_buffers": "Buffers",
    "sb_horizon": "Horizon",
    "sb_notice": "Minimum notice",
    "sb_cutoff": "Cancel/move",
    "sb_hold": "Hold",
    "sb_auto": "Confirmation",
    "sb_reminders": "Reminders",
    "sb_rating": "Rating",
    "sb_max_active": "Booking limit",
    "ask_setting_minutes": "Send a value: minutes (<code>90</code>), hours (<code>24h</code>) "
    "or days (<code>2d</code>). Allowed: {low}–{high} min.",
    "ask_setting_number": "Send a number from {low} to {high}.",
    "ask_buffers": "Send the buffers before and after a visit in minutes, e.g. <code>0 10</code>.",
    "ask_reminders": "When to remind before a visit? E.g. <code>24h, 2h</code>; “off” for none.",
    "setting_saved": "Saved.",
    "setting_bad": "The value is outside the allowed range {low}–{high}.",
    "clients_title": "👥 <b>Clients</b>\nSend a name, @username or part of a phone number to search. Recent:",
    "clients_found": "👥 Found for “{query}”:",
    "clients_none": "Nobody found for “{query}”.",
    "client_card": "👤 <b>{name}</b>{username}\n📞 {phone}\n📝 {notes}\n\nVisits: {visits}, upcoming: {upcoming}, "
    "cancelled: {cancelled}, no-shows: {no_shows}\nSpent: {spent}{blacklisted}\n\n<b>History:</b>\n{history}",
    "client_blacklisted": "\n🚫 Online booking blocked",
    "no_phone": "not set",
    "no_notes": "no notes",
    "history_line": "{when} — {title} ({master}), {status}",
    "btn_phone": "📞 Phone",
    "btn_notes": "📝 Notes",
    "btn_blacklist": "🚫 Block booking",
    "btn_unblacklist": "✅ Allow booking",
    "ask_phone": "Send the client's phone (or “-” to remove it).",
    "ask_notes": "Send a note about the client (up to 1000 characters; “-” clears it).",
    "client_saved": "Saved.",
    "ask_broadcast": "Send the broadcast text (up to {limit} characters). Every client of the bot will get it.",
    "broadcast_preview": "This is what clients will see ({count} people):\n\n{preview}",
    "btn_send": "📣 Send",
    "broadcast_queued": "Broadcast queued (recipients: {count}). The messages will go out within a few minutes.",
    "stats_title": "📊 <b>Analytics {first} — {last}</b>\n"
    "Bookings: {bookings}\nCancelled: {cancelled}\nNo-shows: {no_shows} ({no_show_pct}%)\n"
    "Revenue (past visits): {revenue}\nExpected: {expected}\nMasters' load: {load}%\n"
    "New clients: {new_clients}\nAverage rating: {rating}\n\n<b>Top services:</b>\n{top}",
    "btn_7d": "7 days",
    "btn_30d": "30 days",
    "btn_month": "This month",
    "btn_year": "Year",
    "no_ratings": "no ratings",
    "export_caption": "📤 Bookings {first} — {last}: {count} rows.",
    "export_failed": "Could not send the file. Please try later.",
    "admins_title": "🔑 <b>Admins</b>\nOwner: <code>{owner}</code>\n{items}",
    "admins_only_owner": "Only the owner can add and remove admins.",
    "ask_admin": "Send the new admin's Telegram ID (a number; @userinfobot tells it). "
    "They must have written to this bot at least once.",
    "admin_added": "Admin {id} added.",
    "admin_exists": "That user is already an admin.",
    "admin_removed": "Admin {id} removed.",
    "err_time": "I did not understand the time. Example: <code>10:00-19:00</code>.",
    "err_weekdays": "I did not understand the weekdays. Example: <code>Mon-Fri</code>, <code>Sat</code>.",
    "err_hours": "I did not understand the schedule. Example: <code>Mon-Fri 10:00-19:00</code> "
    "or <code>Sun off</code>.",
    "err_one_range": "For working hours give one range a day (breaks separately) or several that do not overlap.",
    "err_date": "I did not understand the date. Example: <code>15.03</code> or <code>2025-03-15</code>.",
    "err_block": "I did not understand. Example: <code>15.03</code>, <code>15.03-17.03</code> or "
    "<code>15.03 14:00-16:00</code>.",
    "err_minutes": "I did not understand the duration. Example: <code>90</code>, <code>1:30</code>, <code>24h</code>.",
    "err_offsets": "I did not understand. Example: <code>24h, 2h</code> (up to 5 values) or <code>off</code>.",
    "err_price": "I did not understand the price. Example: <code>1500</code> or <code>1500-2500</code>.",
    "err_service": "Send 3–4 parts separated by “;”: <code>Name; minutes; price; category</code>.",
    "err_duration": "The duration must be 5 to 720 minutes.",
    "err_name": "The name must be 1 to 64 characters.",
    "err_client": "Send the client's name and/or phone.",
    "err_phone": "I did not understand the phone: it needs 7 to 15 digits.",
    "err_tg_id": "A Telegram ID is a number, e.g. <code>123456789</code>.",
    "err_too_long": "The text is too long.",
    "err_past": "That date has passed.",
    "minutes_short": "{n} min",
    "hours_short": "{n} h",
    "days_short": "{n} d",
    "price_free": "free",
    "price_from_to": "{low}–{high} ₽",
    "price_one": "{value} ₽",
    "yes": "yes",
    "no": "no",
}

TEXTS: dict[str, dict[str, str]] = {"ru": RU, "en": EN}

WEEKDAYS_SHORT = {
    "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
MONTHS = {
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}
MONTHS_TITLE = {
    "ru": (
        "Январь",
        "Февраль",
        "Март",
        "Апрель",
        "Май",
        "Июнь",
        "Июль",
        "Август",
        "Сентябрь",
        "Октябрь",
        "Ноябрь",
        "Декабрь",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


def all_variants(key: str) -> frozenset[str]:
    """Return the text of ``key`` in every language: reply-keyboard buttons match any of them."""
    return frozenset(TEXTS[lang][key] for lang in LANGUAGES)


class Tr:
    """Texts and formats of one language, handed to every handler as ``tr``."""

    def __init__(self, lang: str) -> None:
        """Pick ``lang``; anything unknown falls back to Russian, the default."""
        self.lang = lang if lang in TEXTS else "ru"
        self._texts = TEXTS[self.lang]

    def __call__(self, key: str, /, **values: object) -> str:
        """Return the text ``key`` with ``values`` substituted (escaped unless ``Html``)."""
        template = self._texts[key]
        if not values:
            return template
        safe = {k: v if isinstance(v, Html) else esc(v) for k, v in values.items()}
        return template.format(**safe)

    def day(self, value: date) -> str:
        """Format a date like "Вт, 11 марта" / "Tue, 11 Mar"."""
        weekday = WEEKDAYS_SHORT[self.lang][value.weekday()]
        month = MONTHS[self.lang][value.month - 1]
        if self.lang == "ru":
            return f"{weekday}, {value.day} {month}"
        return f"{weekday}, {value.day} {month}"

    def day_short(self, value: date) -> str:
        """Format a date as "11.03" for dense lists."""
        return value.strftime("%d.%m")

    def when(self, instant: datetime, tz: ZoneInfo) -> str:
        """Format an instant in the business time zone: "Вт, 11 марта, 15:00"."""
        local = instant.astimezone(tz)
        return f"{self.day(local.date())}, {local:%H:%M}"

    def time(self, instant: datetime, tz: ZoneInfo) -> str:
        """Format the local wall time of an instant, "15:00"."""
        return f"{instant.astimezone(tz):%H:%M}"

    def month_title(self, year: int, month: int) -> str:
        """Return "Март 2025" / "March 2025"."""
        return f"{MONTHS_TITLE[self.lang][month - 1]} {year}"

    def weekday_names(self) -> tuple[str, ...]:
        """Return the short weekday names, Monday first."""
        return WEEKDAYS_SHORT[self.lang]

    def duration(self, minutes: int) -> str:
        """Format a duration: "1 ч 30 мин" / "1 h 30 min"."""
        if minutes >= 2880 and minutes % 1440 == 0:
            return self("days_short", n=minutes // 1440)
        hours, rest = divmod(minutes, 60)
        parts = []
        if hours:
            parts.append(self("hours_short", n=hours))
        if rest or not hours:
            parts.append(self("minutes_short", n=rest))
        return " ".join(parts)

    def delta(self, value: timedelta) -> str:
        """Format a timedelta as a duration."""
        return self.duration(int(value.total_seconds() // 60))

    def price(self, low: Decimal, high: Decimal | None = None) -> str:
        """Format a price or a price range in roubles."""
        if high is not None and high != low:
            return self("price_from_to", low=_money(low), high=_money(high))
        if low == 0:
            return self("price_free")
        return self("price_one", value=_money(low))

    def status(self, status: str) -> str:
        """Translate a booking status."""
        key = {"pending": "status_pending_word"}.get(status, f"status_{status}")
        return self(key)


def _money(value: Decimal) -> str:
    """Format money with thin-space thousands and no trailing ".00"."""
    text = f"{value:,.2f}".replace(",", " ")
    return text[:-3] if text.endswith(".00") else text


def fit(text: str, limit: int = MAX_TEXT - 96) -> str:
    """Cut ``text`` at a line break so it fits one Telegram message (tags never span lines here)."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit] + "\n…"
