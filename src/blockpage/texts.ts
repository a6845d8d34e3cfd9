// Every sentence of the block page, in Vietnamese and English. The child-facing sentences are
// short and kind, written for a five-year-old; category and group names the shipped policy
// uses get their own words, and any other category or group is shown by its name and the
// description the policy gives it.
import type { Lang } from './language';

export interface Hotline {
  readonly number: string;
  /** For the tel: link. */
  readonly dial: string;
  readonly vi: string;
  readonly en: string;
}

/** The child-protection hotlines from the district's letter. */
export const HOTLINES: readonly Hotline[] = Object.freeze([
  Object.freeze({ number: '111', dial: '111', vi: 'Tổng đài quốc gia bảo vệ trẻ em: miễn phí, 24/7', en: 'National child protection hotline: free, 24 hours a day, every day' }),
  Object.freeze({ number: '0243.2233111', dial: '02432233111', vi: 'Trung tâm Công tác xã hội và Quỹ Bảo trợ trẻ em Hà Nội', en: 'Hanoi social work centre and child protection fund' }),
]);

type Bilingual = Readonly<Record<Lang, string>>;

export const T = Object.freeze({
  title: { vi: 'Trang này đã bị chặn', en: 'This page is blocked' },
  kind: {
    vi: 'Trang web này không dành cho em khi ở trường, nên nó đã được chặn lại để giữ an toàn cho em. Em không làm gì sai cả.',
    en: 'This website is not for you at school, so it was stopped to keep you safe. You did not do anything wrong.',
  },
  askTeacher: { vi: 'Nếu em cần trang này để học, hãy nhờ thầy cô giúp nhé.', en: 'If you need it for learning, ask your teacher to help.' },
  filterPage: {
    vi: 'Đây là trang của bộ lọc an toàn của trường. Trang em muốn mở đã bị chặn.',
    en: 'This is the school’s safety filter. The page you wanted to open is blocked.',
  },
  helpTitle: { vi: 'Cần giúp đỡ? Hãy gọi', en: 'Need help? Call' },
  helpText: {
    vi: 'Nếu em thấy buồn hay sợ, hoặc có ai làm em đau hay làm em thấy không an toàn, hãy gọi ngay. Luôn có người lắng nghe em.',
    en: 'If you feel sad or scared, or someone hurts you or makes you feel unsafe, call now. Someone is always there to listen.',
  },
  detailsTitle: { vi: 'Chi tiết', en: 'Details' },
  site: { vi: 'Trang web', en: 'Website' },
  category: { vi: 'Loại', en: 'Category' },
  why: { vi: 'Lý do', en: 'Why' },
  school: { vi: 'Trường', en: 'School' },
  group: { vi: 'Nhóm', en: 'Group' },
  time: { vi: 'Thời gian', en: 'Time' },
  unknownSchool: { vi: 'chưa xác định (mạng của thiết bị này chưa có trong chính sách)', en: 'not known (this device’s network is not in the policy)' },
  notBlocked: {
    vi: 'Trang này không bị chặn cho nhóm của em lúc này. Nếu trang vẫn chưa mở được, hãy thử lại sau vài phút.',
    en: 'This site is not blocked for your group now. If it still does not open, try again in a few minutes.',
  },
  reviewTitle: { vi: 'Trang này không nên bị chặn?', en: 'Should this not be blocked?' },
  reviewText: {
    vi: 'Nếu em nghĩ trang này cần cho việc học, hãy gửi yêu cầu để thầy cô xem lại.',
    en: 'If you think this site is needed for learning, send a request and the school will look at it again.',
  },
  messageLabel: { vi: 'Lời nhắn (không bắt buộc; đừng ghi tên hay số điện thoại)', en: 'Message (optional; no names or phone numbers)' },
  reviewButton: { vi: 'Trang này không nên bị chặn', en: 'This should not be blocked' },
  thanksTitle: { vi: 'Cảm ơn em!', en: 'Thank you!' },
  back: { vi: 'Quay lại', en: 'Back' },
  otherFirst: { vi: 'Tiếng Việt trước', en: 'English first' },
  footer: { vi: 'Bộ lọc an toàn của trường (school-dns)', en: 'The school’s safety filter (school-dns)' },
} satisfies Record<string, Bilingual>);

export function thanks(id: number, duplicate: boolean): Bilingual {
  return duplicate
    ? { vi: `Trang này đã có yêu cầu số ${id} đang chờ thầy cô xem lại.`, en: `This site already has request number ${id} waiting for the school to look at it.` }
    : { vi: `Yêu cầu số ${id} đã được gửi. Thầy cô sẽ xem lại.`, en: `Request number ${id} has been sent. The school will look at it.` };
}

/** Why a review request was not taken, by the store's code (and the block page's own). */
export const REVIEW_PROBLEMS = Object.freeze({
  RATE_LIMITED: { vi: 'Thiết bị này đã gửi nhiều yêu cầu. Hãy thử lại sau nhé.', en: 'This device has sent many requests. Please try again later.' },
  STORE_FULL: { vi: 'Đang có quá nhiều yêu cầu chờ xem lại. Hãy nhờ thầy cô giúp nhé.', en: 'Too many requests are waiting to be looked at. Please ask a teacher.' },
  INVALID: { vi: 'Yêu cầu chưa đúng. Hãy kiểm tra lời nhắn rồi gửi lại.', en: 'The request was not valid. Check the message and send it again.' },
  STORE_FAILED: { vi: 'Chưa lưu được yêu cầu. Hãy nhờ thầy cô giúp nhé.', en: 'The request could not be saved. Please ask a teacher.' },
  NOT_BLOCKED: { vi: 'Trang này không bị chặn cho nhóm của em, nên không cần xem lại.', en: 'This site is not blocked for your group, so there is nothing to look at again.' },
  NO_NAME: { vi: 'Yêu cầu không có tên trang web hợp lệ.', en: 'The request does not name a valid website.' },
  TOO_LONG: { vi: 'Lời nhắn quá dài.', en: 'The message is too long.' },
  OFF: { vi: 'Việc gửi yêu cầu xem lại đang tắt. Hãy nhờ thầy cô giúp nhé.', en: 'Review requests are turned off here. Please ask a teacher.' },
  CROSS_SITE: { vi: 'Yêu cầu phải được gửi từ trang này.', en: 'The request must be sent from this page.' },
} satisfies Record<string, Bilingual>);
export type ReviewProblem = keyof typeof REVIEW_PROBLEMS;

interface CategoryWords {
  readonly label: Bilingual;
  /** One sentence a young child understands. */
  readonly child: Bilingual;
}

const CATEGORIES: Readonly<Record<string, CategoryWords>> = Object.freeze({
  adult: { label: { vi: 'Nội dung người lớn', en: 'Adult content' }, child: { vi: 'Trang này dành cho người lớn, không dành cho trẻ em.', en: 'This site is for grown-ups, not for children.' } },
  malware: { label: { vi: 'Lừa đảo, vi-rút', en: 'Scams and viruses' }, child: { vi: 'Trang này có thể lừa người dùng hoặc làm hỏng máy.', en: 'This site could trick people or harm the device.' } },
  gambling: { label: { vi: 'Cờ bạc, cá độ', en: 'Gambling' }, child: { vi: 'Cờ bạc làm mất tiền và không dành cho trẻ em.', en: 'Gambling loses money and is not for children.' } },
  drugs: { label: { vi: 'Ma túy', en: 'Drugs' }, child: { vi: 'Trang này nói về ma túy, thứ rất có hại cho cơ thể.', en: 'This site is about drugs, which hurt the body.' } },
  violence: { label: { vi: 'Bạo lực', en: 'Violence' }, child: { vi: 'Trang này có hình ảnh hoặc lời nói bạo lực, có thể làm em sợ.', en: 'This site has violent pictures or words that can be scary.' } },
  dating: { label: { vi: 'Hẹn hò', en: 'Dating' }, child: { vi: 'Trang này dành cho người lớn tìm bạn hẹn hò.', en: 'This site is for grown-ups looking for a date.' } },
  bypass: { label: { vi: 'Vượt bộ lọc (VPN, proxy)', en: 'Ways around the filter (VPN, proxy)' }, child: { vi: 'Trang này giúp đi vòng qua bộ lọc an toàn của trường.', en: 'This site helps to get around the school’s safety filter.' } },
  chat: { label: { vi: 'Trò chuyện trực tuyến', en: 'Online chat' }, child: { vi: 'Ở đây em có thể gặp người lạ, và người lạ trên mạng không phải ai cũng tốt.', en: 'You could meet strangers here, and strangers online are not always kind.' } },
  social: { label: { vi: 'Mạng xã hội', en: 'Social networks' }, child: { vi: 'Mạng xã hội chưa dành cho tuổi của em, hoặc không dùng trong giờ học.', en: 'Social networks are not for your age yet, or not for lesson time.' } },
  games: { label: { vi: 'Trò chơi trực tuyến', en: 'Online games' }, child: { vi: 'Trò chơi trực tuyến không dùng ở trường lúc này.', en: 'Online games are not for school time.' } },
  'not-allowlisted': { label: { vi: 'Chưa được cho phép', en: 'Not on the allowed list' }, child: { vi: 'Máy này chỉ mở được những trang học tập thầy cô đã chọn.', en: 'This device only opens the learning sites your teachers chose.' } },
  denylist: { label: { vi: 'Nhà trường chặn riêng', en: 'Blocked by the school' }, child: { vi: 'Nhà trường đã chọn chặn trang này.', en: 'Your school chose to block this site.' } },
});

/** Label and child sentence for a category; unknown ones use their name and the policy's description. */
export function categoryWords(category: string, description: string | null): CategoryWords {
  const known = Object.prototype.hasOwnProperty.call(CATEGORIES, category) ? CATEGORIES[category] : undefined;
  if (known) return known;
  const child = description ?? '';
  return {
    label: { vi: category, en: category },
    child: child ? { vi: child, en: child } : { vi: 'Trang này nằm trong danh sách bị chặn cho nhóm của em.', en: 'This site is on the blocked list for your group.' },
  };
}

const GROUPS: Readonly<Record<string, Bilingual>> = Object.freeze({
  preschool: { vi: 'Mầm non', en: 'Kindergarten' },
  primary: { vi: 'Tiểu học', en: 'Primary school' },
  'lower-secondary': { vi: 'Trung học cơ sở', en: 'Lower secondary school' },
  staff: { vi: 'Giáo viên và nhân viên', en: 'Teachers and staff' },
  guest: { vi: 'Khách', en: 'Guests' },
});

export function groupLabel(group: string): Bilingual {
  return (Object.prototype.hasOwnProperty.call(GROUPS, group) ? GROUPS[group] : undefined) ?? { vi: group, en: group };
}

const DAY_SHORT: Readonly<Record<Lang, readonly string[]>> = { vi: ['CN', 'T2', 'T3', 'T4', 'T5', 'T6', 'T7'], en: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] };

/** A day mask (bit 0 = Sunday) as "T2–T6" / "Mon–Fri", runs of three or more days joined, Monday first. */
export function formatDays(mask: number, lang: Lang): string {
  const order = [1, 2, 3, 4, 5, 6, 0];
  const parts: string[] = [];
  let i = 0;
  while (i < order.length) {
    if ((mask & (1 << order[i]!)) === 0) { i++; continue; }
    let j = i;
    while (j + 1 < order.length && (mask & (1 << order[j + 1]!)) !== 0) j++;
    const name = (k: number): string => DAY_SHORT[lang][order[k]!]!;
    if (j - i >= 2) parts.push(`${name(i)}–${name(j)}`);
    else for (let k = i; k <= j; k++) parts.push(name(k));
    i = j + 1;
  }
  return parts.join(', ');
}
