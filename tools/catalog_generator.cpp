#include "catalog_generator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <optional>
#include <span>

namespace om::catalog {
namespace {

__extension__ typedef __int128 i128;

// ---- vocabulary ------------------------------------------------------------------------------------------
// A product name comes from a template of its category. Placeholders:
//   {a|b|c}   one of the alternatives
//   {cap} storage, {ram} memory, {color} Korean colour, {colour} English colour, {inch} laptop size,
//   {tv} TV size, {year} model year, {mm} shoe size, {size} clothing size, {waist} jeans waist, {n} 1-9
// Prices are drawn log-uniformly in [lo, hi] KRW and rounded like real price tags.

struct Template {
    std::string_view pattern;
    std::int64_t lo;
    std::int64_t hi;
};

struct Category {
    std::string_view name;
    int weight;  // relative share of products
    std::span<const Template> templates;
    std::array<std::string_view, 3> blurbs;  // category-specific description sentences
};

constexpr std::array<std::string_view, 5> kCap{"64GB", "128GB", "256GB", "512GB", "1TB"};
constexpr std::array<std::string_view, 3> kRam{"8GB", "16GB", "32GB"};
constexpr std::array<std::string_view, 14> kColor{"블랙", "화이트", "실버", "그라파이트", "네이비", "베이지", "그레이",
                                                  "레드", "블루", "핑크", "크림", "카키", "민트", "라벤더"};
constexpr std::array<std::string_view, 10> kColour{"Black", "White", "Silver", "Space Gray", "Midnight", "Starlight",
                                                   "Blue", "Green", "Navy", "Beige"};
constexpr std::array<std::string_view, 5> kInch{"13인치", "14인치", "15.6인치", "16인치", "17인치"};
constexpr std::array<std::string_view, 6> kTv{"43인치", "50인치", "55인치", "65인치", "75인치", "85인치"};
constexpr std::array<std::string_view, 4> kYear{"2022", "2023", "2024", "2025"};
constexpr std::array<std::string_view, 7> kSize{"XS", "S", "M", "L", "XL", "XXL", "FREE"};
constexpr std::array<std::string_view, 5> kSizeKr{"90", "95", "100", "105", "110"};

constexpr Template kLaptops[]{
    {"LG 그램 노트북 {inch} {year}", 1'190'000, 2'490'000},
    {"LG gram Pro {16|17} Intel Core Ultra 7 {ram} {cap}", 1'690'000, 2'890'000},
    {"삼성 갤럭시 북4 Pro {14|16}인치 {color}", 1'390'000, 2'390'000},
    {"Samsung Galaxy Book4 Edge {14|16} Snapdragon X Elite {ram}", 1'590'000, 2'290'000},
    {"Apple MacBook Air {13|15} M3 {ram} {cap} {colour}", 1'390'000, 2'590'000},
    {"Apple MacBook Pro 14 M3 Pro {ram} {cap} {Space Black|Silver}", 2'390'000, 2'990'000},
    {"레노버 씽크패드 X1 Carbon Gen 12 {ram} {cap}", 1'890'000, 2'790'000},
    {"ASUS ROG Zephyrus G14 {year} RTX {4060|4070}", 1'990'000, 2'890'000},
    {"HP 파빌리온 {inch} 노트북 {cap} {color}", 790'000, 1'290'000},
    {"Dell XPS 13 {9340|9345} {ram} {cap}", 1'690'000, 2'490'000},
    {"MSI 게이밍 노트북 Katana 15 RTX {4050|4060}", 1'190'000, 1'790'000},
    {"에이서 스위프트 Go 14 OLED {ram} {cap}", 890'000, 1'390'000},
};
constexpr Template kPhones[]{
    {"삼성 갤럭시 S24 {cap} {color} 자급제", 990'000, 1'550'000},
    {"Samsung Galaxy Z Flip6 {cap} {colour}", 1'390'000, 1'590'000},
    {"삼성 갤럭시 Z 폴드6 {cap} {color} 자급제", 2'090'000, 2'590'000},
    {"Apple iPhone {15|15 Plus|15 Pro|15 Pro Max|16|16 Pro} {cap} {colour}", 1'090'000, 2'500'000},
    {"구글 Pixel {8|8 Pro|9} {cap} 해외판", 690'000, 1'390'000},
    {"샤오미 Redmi Note 13 {cap} {color}", 249'000, 399'000},
    {"갤럭시 A35 5G {cap} {color} 자급제", 399'000, 549'000},
};
constexpr Template kTablets[]{
    {"삼성 갤럭시 탭 S9 {cap} {color}", 890'000, 1'390'000},
    {"삼성 갤럭시 탭 S9 FE Wi-Fi {cap}", 549'000, 749'000},
    {"Apple iPad Air {11|13} M2 {cap} Wi-Fi", 899'000, 1'590'000},
    {"Apple iPad mini 7 {cap} {colour}", 749'000, 1'099'000},
    {"Apple iPad Pro 11 M4 {cap} Wi-Fi + Cellular", 1'799'000, 2'999'000},
    {"샤오미 패드 6 {cap} {color}", 399'000, 549'000},
    {"레노버 Tab P12 Pro {cap} 태블릿", 499'000, 799'000},
};
constexpr Template kTvs[]{
    {"LG OLED evo {tv} 4K 스마트 TV {year}", 1'490'000, 3'000'000},
    {"삼성 Neo QLED {tv} 4K 벽걸이형 {year}", 1'290'000, 3'000'000},
    {"삼성 Crystal UHD {tv} 스탠드형", 549'000, 1'490'000},
    {"Sony BRAVIA XR {tv} 4K Google TV", 1'390'000, 3'000'000},
    {"TCL {tv} QLED 4K 안드로이드 TV", 399'000, 1'290'000},
    {"샤오미 Mi TV {tv} 4K UHD", 349'000, 990'000},
};
constexpr Template kAudio[]{
    {"Sony WH-1000XM5 Wireless Headphones {Black|Silver|Midnight Blue}", 359'000, 459'000},
    {"Apple AirPods Pro 2 USB-C", 299'000, 359'000},
    {"삼성 갤럭시 버즈3 Pro {color}", 199'000, 269'000},
    {"Bose QuietComfort Ultra Earbuds {colour}", 299'000, 389'000},
    {"JBL Flip 6 블루투스 스피커 {color}", 109'000, 159'000},
    {"마샬 Emberton II 포터블 스피커 {블랙 앤 브라스|크림}", 189'000, 239'000},
    {"젠하이저 Momentum 4 Wireless {Black|White}", 329'000, 429'000},
    {"브리츠 BZ-{2|3|5}00 PC 스피커", 19'900, 59'000},
};
constexpr Template kCameras[]{
    {"Sony Alpha A7 IV Body", 2'490'000, 2'990'000},
    {"캐논 EOS R50 18-45mm 렌즈 킷 {블랙|화이트}", 899'000, 1'190'000},
    {"후지필름 X-T5 바디 {Black|Silver}", 2'190'000, 2'590'000},
    {"GoPro HERO12 Black 액션캠", 449'000, 599'000},
    {"DJI Osmo Pocket 3 {Standard|Creator Combo}", 649'000, 899'000},
    {"인스탁스 미니 12 즉석카메라 {color}", 89'000, 119'000},
    {"샌디스크 Extreme SD 카드 {cap}", 19'900, 149'000},
};
constexpr Template kAccessories[]{
    {"Anker 735 GaNPrime 65W 고속 충전기", 59'000, 79'000},
    {"삼성 25W 고속 충전기 USB-C {블랙|화이트}", 15'900, 25'000},
    {"벨킨 USB-C to USB-C 케이블 {1m|2m|3m}", 9'900, 29'000},
    {"Apple MagSafe Charger {1m|2m}", 55'000, 69'000},
    {"Anker PowerCore 보조배터리 {10000|20000|26800}mAh", 29'000, 89'000},
    {"{iPhone 15|iPhone 16 Pro|갤럭시 S24|갤럭시 Z 플립6} 투명 젤리 케이스", 5'900, 19'900},
    {"강화유리 액정보호필름 {iPhone 15|갤럭시 S24|iPad Air 11} 2매입", 4'900, 15'900},
};
constexpr Template kKitchenAppliances[]{
    {"쿠쿠 IH 전기압력밥솥 {6|10}인용 {color}", 159'000, 499'000},
    {"필립스 에어프라이어 XXL {year}", 199'000, 329'000},
    {"코스오리 에어프라이어 {5.5L|6.2L} {color}", 89'000, 139'000},
    {"네스프레소 버츄오 팝 캡슐 커피머신 {color}", 119'000, 169'000},
    {"브레빌 870 반자동 에스프레소 머신", 749'000, 899'000},
    {"LG 디오스 광파오븐 전자레인지 {23L|32L|39L}", 299'000, 799'000},
    {"테팔 전기포트 {1.5L|1.7L} {color}", 29'900, 59'000},
    {"드롱기 토스터 {2|4}구 {color}", 69'000, 149'000},
};
constexpr Template kHomeAppliances[]{
    {"다이슨 V15 Detect 무선청소기", 899'000, 1'190'000},
    {"LG 코드제로 A9S 무선청소기 {color}", 699'000, 1'290'000},
    {"삼성 비스포크 제트 AI 무선청소기 {year}", 890'000, 1'390'000},
    {"로보락 S8 MaxV Ultra 로봇청소기", 1'590'000, 1'990'000},
    {"샤오미 미지아 가습기 {4L|5L}", 49'000, 89'000},
    {"위닉스 타워 공기청정기 {year}", 199'000, 399'000},
    {"LG 퓨리케어 360 공기청정기 {color}", 490'000, 990'000},
    {"신일 선풍기 {14|16}인치 리모컨형", 39'000, 89'000},
    {"필립스 스팀다리미 {color}", 39'000, 99'000},
};
constexpr Template kPeripherals[]{
    {"로지텍 MX Keys S 무선 키보드 {colour}", 129'000, 159'000},
    {"Logitech G Pro X Superlight 2 Gaming Mouse {Black|White|Magenta}", 159'000, 199'000},
    {"로지텍 MX Master 3S 무선 마우스 {colour}", 119'000, 149'000},
    {"LG 울트라기어 {27|32}인치 QHD 게이밍 모니터 165Hz", 299'000, 599'000},
    {"삼성 오디세이 G5 {27|32}인치 커브드 모니터", 279'000, 449'000},
    {"Dell UltraSharp U2723QE 27 4K Monitor", 699'000, 899'000},
    {"삼성 990 PRO NVMe SSD {cap}", 99'000, 329'000},
    {"WD Blue SN580 NVMe SSD {cap}", 59'000, 159'000},
    {"키크론 K8 Pro 기계식 키보드 {적축|갈축|청축}", 129'000, 169'000},
    {"레오폴드 FC900R 기계식 키보드 {color}", 119'000, 159'000},
    {"TP-Link Archer AX55 Wi-Fi 6 공유기", 69'000, 99'000},
};
constexpr Template kGames[]{
    {"Nintendo Switch OLED 모델 {화이트|네온 블루/레드}", 369'000, 429'000},
    {"닌텐도 스위치 젤다의 전설 티어스 오브 더 킹덤 한글판", 59'800, 69'800},
    {"PlayStation 5 Slim {디스크|디지털} 에디션", 549'000, 699'000},
    {"PS5 DualSense 무선 컨트롤러 {colour}", 79'000, 95'000},
    {"Xbox Series X 1TB", 629'000, 699'000},
    {"마리오 카트 8 디럭스 한글판", 54'800, 64'800},
    {"Meta Quest 3 {128GB|512GB} VR 헤드셋", 699'000, 949'000},
};
constexpr Template kShoes[]{
    {"나이키 에어맥스 {90|97|270} 운동화 {mm}", 139'000, 219'000},
    {"Nike Air Force 1 '07 {colour} {mm}", 119'000, 149'000},
    {"아디다스 삼바 OG {color} {mm}", 109'000, 149'000},
    {"New Balance 993 Made in USA {mm}", 259'000, 299'000},
    {"뉴발란스 530 {color} {mm}", 99'000, 139'000},
    {"컨버스 척테일러 올스타 하이 {color} {mm}", 59'000, 89'000},
    {"반스 올드스쿨 {color} {mm}", 59'000, 89'000},
    {"닥터마틴 1460 8홀 부츠 {mm}", 229'000, 289'000},
    {"크록스 클래식 클로그 {color} {mm}", 39'900, 69'000},
    {"호카 본디 8 러닝화 {mm}", 199'000, 259'000},
};
constexpr Template kMenswear[]{
    {"유니클로 에어리즘 코튼 오버사이즈 티셔츠 {color} {size}", 14'900, 19'900},
    {"무신사 스탠다드 릴렉스드 데님 팬츠 {waist}", 39'900, 59'900},
    {"폴로 랄프로렌 커스텀핏 옥스포드 셔츠 {colour} {size}", 159'000, 229'000},
    {"노스페이스 눕시 패딩 자켓 {color} {sizekr}", 299'000, 399'000},
    {"Levi's 501 Original Jeans {waist}", 89'000, 139'000},
    {"탑텐 남성 기모 맨투맨 {color} {sizekr}", 19'900, 39'900},
    {"Patagonia Better Sweater Fleece Jacket {size}", 189'000, 259'000},
};
constexpr Template kWomenswear[]{
    {"자라 여성 트위드 자켓 {color} {size}", 89'000, 159'000},
    {"에잇세컨즈 여성 니트 가디건 {color} {size}", 39'900, 69'900},
    {"H&M 린넨 블렌드 와이드 팬츠 {colour} {size}", 29'900, 49'900},
    {"스파오 여성 롱 원피스 {color} {size}", 29'900, 59'900},
    {"COS Wool Blend Coat {colour} {size}", 249'000, 390'000},
    {"마뗑킴 로고 크롭 티셔츠 {color} FREE", 39'000, 59'000},
};
constexpr Template kBags[]{
    {"샘소나이트 캐리어 {20|24|28}인치 {color}", 189'000, 459'000},
    {"Herschel Little America Backpack {colour}", 139'000, 189'000},
    {"쌤소나이트 레드 노트북 백팩 {color}", 99'000, 169'000},
    {"코치 Tabby 숄더백 {color}", 390'000, 690'000},
    {"MLB 모노그램 크로스백 {color}", 59'000, 99'000},
    {"잔스포츠 슈퍼브레이크 백팩 {color}", 39'000, 59'000},
};
constexpr Template kWatches[]{
    {"카시오 G-Shock GA-2100 {colour}", 99'000, 149'000},
    {"Apple Watch Series 9 GPS {41|45}mm {colour}", 499'000, 699'000},
    {"삼성 갤럭시 워치7 {40|44}mm 블루투스 {color}", 299'000, 399'000},
    {"스와치 오리지널 젠트 손목시계 {color}", 89'000, 129'000},
    {"레이밴 웨이페어러 선글라스 RB2140 {50|54}mm", 179'000, 239'000},
    {"판도라 모먼트 실버 팔찌 {17|19|21}cm", 89'000, 129'000},
};
constexpr Template kSkincare[]{
    {"설화수 윤조에센스 {60|90|120}ml", 89'000, 199'000},
    {"라로슈포제 시카플라스트 밤 B5+ 40ml", 19'900, 29'900},
    {"닥터지 레드 블레미쉬 클리어 수딩 크림 {50|70}ml", 19'900, 32'000},
    {"아누아 어성초 77 수딩 토너 {250|350}ml", 18'900, 28'900},
    {"COSRX Advanced Snail 96 Mucin Power Essence 100ml", 15'900, 25'000},
    {"라운드랩 1025 독도 토너 {200|500}ml", 13'900, 26'900},
    {"Estée Lauder Advanced Night Repair {30|50|100}ml", 89'000, 239'000},
    {"이니스프리 그린티 씨드 세럼 {80|130}ml", 21'000, 39'000},
};
constexpr Template kMakeup[]{
    {"롬앤 쥬시 래스팅 틴트 {n}호", 9'900, 13'000},
    {"에스쁘아 프로 테일러 비 벨벳 쿠션 {21|23}호 리필 포함", 29'000, 38'000},
    {"클리오 킬커버 파운웨어 쿠션 {21|23}호", 24'000, 34'000},
    {"MAC Retro Matte Lipstick {Ruby Woo|Chili|Velvet Teddy}", 32'000, 39'000},
    {"페리페라 잉크 더 벨벳 {n}호", 7'900, 11'000},
    {"헤라 블랙 쿠션 {21|23}호 SPF34", 55'000, 69'000},
};
constexpr Template kRamen[]{
    {"농심 신라면 멀티팩 {5|10|20|40}개입", 3'900, 33'000},
    {"오뚜기 진라면 매운맛 {5|20|40}개입", 3'600, 29'800},
    {"삼양 불닭볶음면 {5|10|40}개입", 4'500, 34'000},
    {"농심 짜파게티 {5|20|40}개입", 4'300, 33'000},
    {"팔도 비빔면 {5|10|20}개입", 4'200, 18'900},
    {"오뚜기 참깨라면 컵 {6|12}개입", 7'200, 13'900},
    {"Nongshim Shin Ramyun Black {4|8} Pack", 9'900, 18'900},
    {"농심 너구리 순한맛 {5|20}개입", 4'300, 17'900},
};
constexpr Template kSnacks[]{
    {"오리온 초코파이 정 {12|24|36}개입", 4'800, 13'900},
    {"농심 새우깡 {90g|400g} {1|4|8}봉", 1'500, 19'900},
    {"롯데 빼빼로 오리지널 {8|16}갑", 9'600, 18'900},
    {"해태 허니버터칩 {60g|120g} {4|10}봉", 6'900, 19'800},
    {"Pringles Original {110g|165g} {3|6} Pack", 8'900, 21'900},
    {"크라운 산도 딸기 {161g|323g}", 2'800, 5'900},
    {"Kirkland Signature Mixed Nuts 1.13kg", 24'900, 32'900},
};
constexpr Template kDrinks[]{
    {"코카콜라 제로 {355ml|500ml|1.5L} {6|24|30}개", 5'900, 32'900},
    {"제주 삼다수 {500ml|2L} {6|20|40}병", 4'900, 23'900},
    {"롯데 칠성사이다 {355ml|1.5L} {12|24}개", 11'900, 29'900},
    {"Starbucks Frappuccino Mocha 281ml {6|10|20}병", 14'900, 39'900},
    {"광동 옥수수수염차 {340ml|500ml} {20|24}병", 15'900, 24'900},
    {"매일 소화가 잘되는 우유 {190ml|930ml} {12|24}팩", 12'900, 34'900},
};
constexpr Template kFresh[]{
    {"이천 쌀 {5kg|10kg|20kg} {year}년 햅쌀", 24'900, 79'000},
    {"제주 감귤 {3kg|5kg|10kg} 로얄과", 14'900, 39'900},
    {"성주 참외 {1.5kg|3kg|5kg}", 15'900, 44'900},
    {"Chilean Blueberries {125g|500g|1kg}", 5'900, 29'900},
    {"한우 1++ 등심 구이용 {300g|500g|1kg}", 49'000, 189'000},
    {"무항생제 특란 {30|60}구", 8'900, 17'900},
    {"청송 사과 부사 {3kg|5kg|10kg}", 24'900, 69'000},
    {"노르웨이 생연어 필렛 {500g|1kg}", 24'900, 45'900},
};
constexpr Template kCoffee[]{
    {"스타벅스 하우스 블렌드 원두 {250g|1.13kg}", 14'900, 49'900},
    {"맥심 모카골드 커피믹스 {100|180|250}T", 14'900, 32'900},
    {"네스프레소 버츄오 캡슐 멜로지오 {10|50}개입", 9'900, 49'900},
    {"Lavazza Qualità Oro Whole Bean {250g|1kg}", 12'900, 39'900},
    {"오설록 세작 녹차 {40g|80g}", 15'000, 29'000},
    {"카누 미니 마일드 로스트 아메리카노 {100|150|250}T", 19'900, 49'900},
    {"TWG Tea 1837 Black Tea {15|100} Teabags", 19'000, 89'000},
};
constexpr Template kKitchenware[]{
    {"락앤락 비스프리 밀폐용기 {10|14|20}종 세트", 29'900, 69'900},
    {"해피콜 IH 다이아몬드 프라이팬 {24|26|28}cm", 29'900, 49'900},
    {"Tefal Ingenio Frying Pan {24|28}cm", 39'900, 69'900},
    {"휘슬러 압력솥 {2.5L|4.5L|6L}", 289'000, 459'000},
    {"스탠리 퀜처 H2.0 텀블러 {887ml|1.18L} {colour}", 45'000, 65'000},
    {"조셉조셉 도마 {3|4}종 세트", 49'000, 89'000},
    {"코렐 {4|6}인 홈세트 {year} 에디션", 79'000, 169'000},
};
constexpr Template kHousehold[]{
    {"다우니 섬유유연제 엑스퍼트 {1L|2L|4L} {2|4}개", 12'900, 39'900},
    {"퍼실 파워젤 액체세제 {2.2L|3L} 리필", 14'900, 24'900},
    {"크리넥스 3겹 데코앤소프트 화장지 {30|48}롤", 19'900, 34'900},
    {"깨끗한나라 순수 키친타올 {4|8|12}롤", 5'900, 15'900},
    {"Dettol Hand Wash {250ml|500ml} {3|6}개", 9'900, 24'900},
    {"페브리즈 섬유탈취제 {370ml|900ml} 리필", 4'900, 12'900},
    {"유한락스 {2L|3L} {2|3}개", 6'900, 14'900},
    {"페리오 치약 {100g|150g} {5|10}개", 7'900, 19'900},
};
constexpr Template kFurniture[]{
    {"한샘 샘 책상 {1200|1400|1600} {color}", 99'000, 249'000},
    {"이케아 MALM 서랍장 {3|4|6}칸 {colour}", 79'000, 199'000},
    {"IKEA POÄNG Armchair {colour}", 119'000, 179'000},
    {"시디즈 T50 사무용 의자 {color}", 249'000, 389'000},
    {"일룸 쿠시노 3인 소파 {color}", 890'000, 1'690'000},
    {"템퍼 오리지널 베개 {S|M|L}", 149'000, 229'000},
    {"시몬스 뷰티레스트 매트리스 {SS|Q|K}", 890'000, 2'990'000},
    {"Philips Hue 스마트 전구 스타터 키트 {2|3}개입", 99'000, 169'000},
};
constexpr Template kBooks[]{
    {"Atomic Habits - James Clear ({Paperback|Hardcover})", 18'000, 39'000},
    {"Project Hail Mary - Andy Weir ({Paperback|Hardcover})", 17'000, 42'000},
    {"Clean Code: A Handbook of Agile Software Craftsmanship", 39'000, 59'000},
    {"The Pragmatic Programmer, 20th Anniversary Edition", 45'000, 65'000},
    {"Designing Data-Intensive Applications", 52'000, 79'000},
    {"Harry Potter and the Philosopher's Stone ({Paperback|Hardcover})", 12'000, 35'000},
    {"Sapiens: A Brief History of Humankind", 19'000, 29'000},
    {"The C++ Programming Language, 4th Edition", 59'000, 89'000},
};
constexpr Template kNovels[]{
    {"소년이 온다 - 한강", 13'500, 15'000},
    {"채식주의자 - 한강 (리마스터판)", 13'500, 15'000},
    {"불편한 편의점 {1|2} - 김호연", 13'000, 15'000},
    {"달러구트 꿈 백화점 {1|2} - 이미예", 12'800, 14'800},
    {"아몬드 - 손원평", 11'000, 14'000},
    {"역행자 확장판 - 자청", 17'500, 19'800},
    {"세이노의 가르침", 6'480, 7'200},
    {"82년생 김지영 - 조남주", 12'000, 13'000},
};
constexpr Template kItBooks[]{
    {"이것이 자바다 {개정판|3판} - 신용권", 30'000, 36'000},
    {"Do it! 점프 투 파이썬 {개정판|전면개정판}", 18'800, 22'000},
    {"혼자 공부하는 머신러닝+딥러닝", 26'000, 28'000},
    {"모던 자바스크립트 Deep Dive", 40'500, 45'000},
    {"Effective C++ 3판 (한국어판)", 28'000, 32'000},
    {"가상 면접 사례로 배우는 대규모 시스템 설계 기초 {1|2}", 24'000, 34'200},
};
constexpr Template kOutdoor[]{
    {"코오롱스포츠 고어텍스 등산자켓 {color} {sizekr}", 289'000, 459'000},
    {"블랙야크 트레킹화 {mm}", 129'000, 219'000},
    {"헬리녹스 체어원 {colour}", 139'000, 169'000},
    {"스노우피크 티타늄 싱글 머그 {300|450}ml", 45'000, 59'000},
    {"콜맨 터프 스크린 2룸 하우스 텐트", 390'000, 590'000},
    {"Osprey Atmos AG 65 Backpack {S/M|L/XL}", 329'000, 419'000},
    {"니모 스위치백 캠핑 매트 {Regular|Short}", 59'000, 79'000},
    {"Black Diamond Spot 400 Headlamp {colour}", 49'000, 65'000},
};
constexpr Template kFitness[]{
    {"요가매트 TPE {6|10|15}mm {color}", 12'900, 39'900},
    {"Bowflex SelectTech 552 Adjustable Dumbbells", 490'000, 690'000},
    {"나이키 드라이핏 러닝 반팔 티셔츠 {size}", 35'000, 49'000},
    {"가민 포러너 {165|265|965} GPS 러닝 워치", 349'000, 849'000},
    {"Theragun Mini {year} 마사지건", 199'000, 289'000},
    {"마이프로틴 임팩트 웨이 프로틴 {1kg|2.5kg|5kg} {초코|바닐라|딸기}", 29'900, 119'000},
    {"윌슨 프로스태프 테니스 라켓 {97|100}", 259'000, 349'000},
    {"요넥스 아스트록스 배드민턴 라켓 {77|88D|99}", 159'000, 259'000},
};
constexpr Template kToys[]{
    {"LEGO Technic Lamborghini Sián FKP 37 42115", 459'000, 599'000},
    {"레고 시티 경찰서 60316", 99'000, 139'000},
    {"레고 프렌즈 하트레이크 시티 {year}", 49'000, 129'000},
    {"팸퍼스 베이비드라이 팬티 기저귀 {4|5|6}단계 {2|3|4}팩", 39'900, 89'900},
    {"하기스 네이처메이드 기저귀 {3|4|5}단계", 29'900, 49'900},
    {"피셔프라이스 아기 체육관 {color}", 49'000, 89'000},
    {"뽀로로 자석 블록 {60|100}pcs", 29'900, 59'900},
    {"Sylvanian Families 빨간 지붕 큰 집", 89'000, 119'000},
};
constexpr Template kPets[]{
    {"로얄캐닌 미니 인도어 어덜트 {1.5kg|3kg|8.7kg}", 21'900, 89'000},
    {"오리젠 오리지널 캣 {340g|1.8kg|5.4kg}", 14'900, 119'000},
    {"ANF 식스프리 플러스 {2kg|5.6kg}", 24'900, 54'900},
    {"Greenies Dental Treats {Petite|Regular} {12|24}개입", 15'900, 39'900},
    {"카샤카샤 붕붕 고양이 낚싯대", 3'900, 7'900},
    {"이나바 츄르 참치 {20|40|50}개입", 11'900, 29'900},
    {"고양이 두부모래 {7L|21L} 오리지널", 7'900, 24'900},
};
constexpr Template kCar[]{
    {"불스원 레인OK 발수코팅 와이퍼 {500|550|650}mm", 12'900, 24'900},
    {"3M 차량용 햇빛가리개 {S|M|L}", 19'900, 39'900},
    {"아이나비 블랙박스 QXD{1|3|5}000 {32GB|64GB|128GB}", 149'000, 399'000},
    {"Turtle Wax Hybrid Solutions Ceramic Spray 500ml", 19'900, 29'900},
    {"보쉬 에어로트윈 와이퍼 {1|2}개입", 15'900, 39'900},
    {"Michelin Primacy 4 {205/55R16|225/45R17|235/55R19}", 109'000, 259'000},
};

constexpr Category kCategories[]{
    {"전자제품/노트북", 3, kLaptops,
     {"최신 프로세서와 고해상도 디스플레이로 업무와 학습 모두 쾌적합니다.",
      "Lightweight chassis with all-day battery life.", "국내 정식 유통 제품으로 1년 무상 A/S가 제공됩니다."}},
    {"전자제품/스마트폰", 3, kPhones,
     {"자급제 정품으로 모든 통신사에서 사용할 수 있습니다.", "Unlocked for all carriers, with a 1-year warranty.",
      "개봉 후 단순 변심에 의한 반품은 어렵습니다."}},
    {"전자제품/태블릿", 2, kTablets,
     {"필기와 영상 감상에 최적화된 태블릿입니다.", "Supports stylus input and split-screen multitasking.",
      "정품 충전 케이블이 함께 제공됩니다."}},
    {"전자제품/TV", 2, kTvs,
     {"전문 기사가 방문하여 무료로 설치해 드립니다.", "Dolby Vision and HDR10 supported.",
      "벽걸이 브래킷은 별도 구매가 필요할 수 있습니다."}},
    {"전자제품/음향기기", 3, kAudio,
     {"액티브 노이즈 캔슬링으로 몰입감 있는 사운드를 즐겨 보세요.", "Up to 30 hours of playback on a single charge.",
      "블루투스 5.3 지원으로 끊김 없이 연결됩니다."}},
    {"Electronics/Cameras", 2, kCameras,
     {"빠른 AF와 선명한 화질로 순간을 기록하세요.", "Shoots 4K video with in-body stabilisation.",
      "정품 등록 시 보증 기간이 연장됩니다."}},
    {"Electronics/Accessories", 4, kAccessories,
     {"KC 인증을 받은 안전한 제품입니다.", "Compatible with most USB-C devices.", "꼼꼼한 검수 후 발송합니다."}},
    {"가전/주방가전", 3, kKitchenAppliances,
     {"간편한 조작으로 누구나 쉽게 요리할 수 있습니다.", "Dishwasher-safe parts for easy cleaning.",
      "에너지 소비효율 1등급 제품입니다."}},
    {"가전/생활가전", 3, kHomeAppliances,
     {"강력한 성능과 저소음 설계로 일상을 편리하게 만들어 줍니다.", "Washable filter and smart app control.",
      "전국 서비스 센터에서 A/S를 받을 수 있습니다."}},
    {"컴퓨터/주변기기", 4, kPeripherals,
     {"게이밍과 업무 모두에 적합한 주변기기입니다.", "Plug and play on Windows, macOS and Linux.",
      "초기 불량 시 7일 이내 무상 교환해 드립니다."}},
    {"게임/콘솔", 2, kGames,
     {"정식 발매 한글판 제품입니다.", "Includes a code for online features where applicable.",
      "패키지 개봉 후에는 교환 및 반품이 불가합니다."}},
    {"패션/신발", 5, kShoes,
     {"발볼이 넓으신 분은 반 사이즈 크게 주문하시길 권장합니다.", "Genuine product sourced from the official distributor.",
      "쿠셔닝이 뛰어나 장시간 착용해도 편안합니다."}},
    {"패션/남성의류", 4, kMenswear,
     {"데일리로 입기 좋은 베이직 핏입니다.", "Machine washable; tumble dry low.", "모델 착용 사이즈는 L입니다."}},
    {"패션/여성의류", 4, kWomenswear,
     {"어떤 코디에도 잘 어울리는 세련된 디자인입니다.", "Relaxed fit with a soft hand feel.",
      "모니터 환경에 따라 실제 색상과 차이가 있을 수 있습니다."}},
    {"패션/가방", 3, kBags,
     {"수납공간이 넉넉해 여행과 출근길 모두 든든합니다.", "Water-resistant fabric and padded laptop sleeve.",
      "정품 더스트백이 함께 제공됩니다."}},
    {"패션/시계·액세서리", 2, kWatches,
     {"선물용으로도 좋은 정품 액세서리입니다.", "Comes in the original gift box.", "생활 방수를 지원합니다."}},
    {"뷰티/스킨케어", 4, kSkincare,
     {"민감한 피부에도 자극 없이 사용할 수 있습니다.", "Dermatologist tested and fragrance free.",
      "제조일로부터 24개월 이내 제품만 발송합니다."}},
    {"뷰티/메이크업", 3, kMakeup,
     {"가볍게 밀착되어 오랫동안 지속됩니다.", "Buildable coverage with a natural finish.", "색상은 조명에 따라 다르게 보일 수 있습니다."}},
    {"식품/라면", 4, kRamen,
     {"얼큰하고 깊은 국물 맛이 일품입니다.", "A Korean favourite, ready in four minutes.", "유통기한이 넉넉한 제품으로 보내 드립니다."}},
    {"식품/과자·간식", 4, kSnacks,
     {"온 가족이 함께 즐기는 국민 간식입니다.", "Perfect for sharing at the office.", "여름철에는 아이스팩과 함께 발송합니다."}},
    {"식품/음료", 4, kDrinks,
     {"시원하게 즐기면 더욱 맛있습니다.", "Bulk pack for home and office.", "무거운 상품으로 도서산간 지역은 추가 배송비가 있습니다."}},
    {"식품/신선식품", 3, kFresh,
     {"산지에서 당일 수확하여 신선하게 보내 드립니다.", "Packed cold and shipped the same day.",
      "신선식품 특성상 단순 변심에 의한 반품은 어렵습니다."}},
    {"식품/커피·차", 3, kCoffee,
     {"향긋한 풍미를 집에서도 간편하게 즐겨 보세요.", "Freshly roasted and sealed for aroma.", "직사광선을 피해 서늘한 곳에 보관하세요."}},
    {"생활/주방용품", 3, kKitchenware,
     {"튼튼하고 위생적인 소재로 오래 사용할 수 있습니다.", "Oven and dishwasher safe.", "인덕션을 포함한 모든 열원에서 사용 가능합니다."}},
    {"생활/세제·위생", 4, kHousehold,
     {"대용량으로 더욱 알뜰하게 사용하세요.", "Gentle on skin, tough on stains.", "정기 배송으로 주문하시면 더 저렴합니다."}},
    {"가구/인테리어", 2, kFurniture,
     {"공간을 돋보이게 하는 모던한 디자인입니다.", "Assembly instructions included; tools provided.",
      "설치 배송 상품으로 배송일은 별도로 안내해 드립니다."}},
    {"Books", 2, kBooks,
     {"전 세계 독자들이 사랑한 베스트셀러 원서입니다.", "Imported English edition, brand new.", "A must-read recommended by many readers."}},
    {"도서/소설", 2, kNovels,
     {"많은 독자의 사랑을 받은 화제의 소설입니다.", "Winner of multiple literary awards.", "도서는 비닐 포장 상태로 발송됩니다."}},
    {"도서/IT·컴퓨터", 2, kItBooks,
     {"입문자도 쉽게 따라 할 수 있도록 구성된 실습서입니다.", "Includes example code and exercises.", "최신 개정판으로 발송합니다."}},
    {"Sports/Outdoor", 3, kOutdoor,
     {"가볍고 튼튼해서 캠핑과 등산에 제격입니다.", "Built for four seasons on the trail.", "아웃도어 전문 브랜드 정품입니다."}},
    {"Sports/Fitness", 3, kFitness,
     {"홈트레이닝을 더 효과적으로 만들어 줍니다.", "Designed with athletes for everyday training.", "운동 전후 사용을 권장합니다."}},
    {"유아/완구", 3, kToys,
     {"KC 안전 인증을 받은 제품입니다.", "Recommended for ages 3 and up.", "아이의 창의력과 소근육 발달에 도움을 줍니다."}},
    {"반려동물/용품", 3, kPets,
     {"우리 아이가 좋아하는 기호성 높은 제품입니다.", "Made with real meat as the first ingredient.", "유통기한을 꼭 확인해 주세요."}},
    {"자동차/용품", 2, kCar,
     {"대부분의 국산 및 수입 차종에 호환됩니다.", "Easy to install in minutes.", "차종별 호환 여부를 구매 전 확인해 주세요."}},
};

constexpr std::array<std::string_view, 16> kGeneralSentences{
    "오후 2시 이전 주문 시 당일 출고됩니다.",
    "3만원 이상 구매 시 무료배송입니다.",
    "Free shipping on orders over 30,000 KRW.",
    "정품 인증을 받은 100% 정품입니다.",
    "Ships within one business day.",
    "구매 후 리뷰를 남겨 주시면 적립금을 드립니다.",
    "제품 하자 시 무료로 교환 및 반품해 드립니다.",
    "문의 사항은 판매자 Q&A로 남겨 주세요.",
    "Returns accepted within 7 days of delivery.",
    "한정 수량 특가 상품입니다.",
    "선물 포장이 가능합니다.",
    "Limited stock - order soon.",
    "제주 및 도서산간 지역은 추가 배송비가 발생합니다.",
    "Customer support is available in Korean and English.",
    "공식 판매처에서 직접 배송합니다.",
    "This item is eligible for gift wrapping.",
};

// Listing tags that sellers put in front of names (one product in five has one).
constexpr std::array<std::string_view, 10> kListingTags{"[정품]", "[당일발송]", "[무료배송]", "[공식판매처]", "[특가]",
                                                        "[해외직구]", "[국내정품]", "[선물포장]", "[Best]", "[New]"};

constexpr std::array<std::string_view, 20> kShopPrefix{"한빛", "바른", "Seoul", "다온", "Blue Harbor", "미래", "온누리",
                                                       "Hanriver", "새봄", "Daily", "가온", "Green Leaf", "하늘",
                                                       "Urban", "초록", "Busan", "누리", "Prime", "다솜", "North Star"};
constexpr std::array<std::string_view, 16> kShopSuffix{"전자", "상사", "Store", "마켓", "Outfitters", "리빙", "몰",
                                                       "Goods", "스토어", "Trading", "유통", "Select", "샵", "Mart",
                                                       "컴퍼니", "Supply"};

int total_weight() noexcept {
    int w = 0;
    for (const auto& c : kCategories) {
        w += c.weight;
    }
    return w;
}

const Category& pick_category(Rng& rng) {
    static const int total = total_weight();
    auto r = static_cast<int>(rng.below(static_cast<std::uint64_t>(total)));
    for (const auto& c : kCategories) {
        if (r < c.weight) {
            return c;
        }
        r -= c.weight;
    }
    return kCategories[0];
}

template <class Array>
std::string_view pick(Rng& rng, const Array& a) {
    return a[rng.below(std::size(a))];
}

// One alternative of "a|b|c" (no '|': the text itself); *rank = its position in [0, 1] (0 for the first).
std::string_view pick_alternative(Rng& rng, std::string_view alts, double* rank) {
    const auto n = static_cast<std::uint64_t>(std::count(alts.begin(), alts.end(), '|')) + 1;
    auto k = rng.below(n);
    *rank = n > 1 ? static_cast<double>(k) / static_cast<double>(n - 1) : 0.0;
    std::size_t start = 0;
    while (k-- > 0) {
        start = alts.find('|', start) + 1;
    }
    const auto end = alts.find('|', start);
    return alts.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
}

// Price rank of a name: the mean position of its size-like choices (numeric alternatives, storage, memory,
// screen sizes), each in [0, 1] from the cheapest to the dearest; none -> no rank.
struct Rank {
    double sum = 0;
    int count = 0;
    void add(std::uint64_t k, std::size_t n) {
        if (n > 1) {
            sum += static_cast<double>(k) / static_cast<double>(n - 1);
            ++count;
        }
    }
    [[nodiscard]] std::optional<double> value() const {
        return count > 0 ? std::optional<double>(sum / count) : std::nullopt;
    }
};

template <class Array>
std::string_view pick_ranked(Rng& rng, const Array& a, Rank* rank) {
    const auto k = rng.below(std::size(a));
    rank->add(k, std::size(a));
    return a[k];
}

void expand_placeholder(std::string& out, std::string_view key, Rng& rng, Rank* rank) {
    if (key.find('|') != std::string_view::npos) {
        double r = 0;
        out += pick_alternative(rng, key, &r);
        if (key[0] >= '0' && key[0] <= '9') {
            rank->sum += r;
            ++rank->count;
        }
    } else if (key == "cap") {
        out += pick_ranked(rng, kCap, rank);
    } else if (key == "ram") {
        out += pick_ranked(rng, kRam, rank);
    } else if (key == "color") {
        out += pick(rng, kColor);
    } else if (key == "colour") {
        out += pick(rng, kColour);
    } else if (key == "inch") {
        out += pick_ranked(rng, kInch, rank);
    } else if (key == "tv") {
        out += pick_ranked(rng, kTv, rank);
    } else if (key == "year") {
        out += pick(rng, kYear);
    } else if (key == "mm") {
        out += std::to_string(220 + 5 * rng.below(17));  // 220-300mm
        out += "mm";
    } else if (key == "size") {
        out += pick(rng, kSize);
    } else if (key == "sizekr") {
        out += pick(rng, kSizeKr);
    } else if (key == "waist") {
        out += std::to_string(28 + rng.below(9));  // 28-36
    } else if (key == "n") {
        out += std::to_string(1 + rng.below(9));
    } else {
        out += key;  // unknown: literal (never happens with the tables above)
    }
}

std::string expand(std::string_view pattern, Rng& rng, Rank* rank) {
    std::string out;
    out.reserve(pattern.size() + 16);
    std::size_t i = 0;
    while (i < pattern.size()) {
        const auto open = pattern.find('{', i);
        if (open == std::string_view::npos) {
            out += pattern.substr(i);
            break;
        }
        out += pattern.substr(i, open - i);
        const auto close = pattern.find('}', open);
        expand_placeholder(out, pattern.substr(open + 1, close - open - 1), rng, rank);
        i = close + 1;
    }
    return out;
}

// Log-uniform in [lo, hi] (or near `rank` of it: bigger packs cost more), rounded like a price tag: to 10
// below 10,000 KRW, else to 100, often ending in 900.
std::int64_t price_between(Rng& rng, std::int64_t lo, std::int64_t hi, std::optional<double> rank) {
    const double q = rank ? 0.8 * *rank + 0.2 * rng.unit() : rng.unit();
    const double x = std::exp(std::log(static_cast<double>(lo)) +
                              q * (std::log(static_cast<double>(hi)) - std::log(static_cast<double>(lo))));
    auto p = static_cast<std::int64_t>(x);
    if (p < 10'000) {
        p = (p + 5) / 10 * 10;
    } else if (rng.chance(0.5)) {
        p = (p + 500) / 1000 * 1000 - 100;  // 29,900
    } else {
        p = (p + 50) / 100 * 100;
    }
    return std::clamp<std::int64_t>(p, 1'000, 3'000'000);
}

void append_hex(std::string& out, const unsigned char* b, std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < n; ++i) {
        out += kHex[b[i] >> 4];
        out += kHex[b[i] & 0xF];
    }
}

void append_int(std::string& out, std::int64_t v) {
    char buf[24];
    const int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    out.append(buf, static_cast<std::size_t>(n));
}

}  // namespace

std::uint64_t mix(std::uint64_t a, std::uint64_t b, std::uint64_t c) noexcept {
    Rng r(a);
    std::uint64_t h = r.next() ^ b;
    Rng r2(h);
    h = r2.next() ^ c;
    Rng r3(h);
    return r3.next();
}

std::string uuid_v7(std::int64_t unix_ms, Rng& rng) {
    unsigned char b[16];
    const auto ms = static_cast<std::uint64_t>(unix_ms);
    for (int i = 0; i < 6; ++i) {
        b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
    }
    const std::uint64_t r1 = rng.next();
    const std::uint64_t r2 = rng.next();
    for (int i = 0; i < 2; ++i) {
        b[6 + i] = static_cast<unsigned char>(r1 >> (8 * i));
    }
    for (int i = 0; i < 8; ++i) {
        b[8 + i] = static_cast<unsigned char>(r2 >> (8 * i));
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x70);  // version 7
    b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // variant 10
    std::string s;
    s.reserve(36);
    append_hex(s, b, 4);
    s += '-';
    append_hex(s, b + 4, 2);
    s += '-';
    append_hex(s, b + 6, 2);
    s += '-';
    append_hex(s, b + 8, 2);
    s += '-';
    append_hex(s, b + 10, 6);
    return s;
}

std::string timestamp_utc(std::int64_t unix_ms) {
    // Howard Hinnant's civil_from_days.
    std::int64_t days = unix_ms / kMsPerDay;
    std::int64_t rem = unix_ms % kMsPerDay;
    if (rem < 0) {
        rem += kMsPerDay;
        --days;
    }
    const std::int64_t z = days + 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[40];
    const int n = std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%03lld+00",
                                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                                static_cast<long long>(rem / 3'600'000), static_cast<long long>(rem / 60'000 % 60),
                                static_cast<long long>(rem / 1000 % 60), static_cast<long long>(rem % 1000));
    return {buf, static_cast<std::size_t>(n)};
}

void append_copy_text(std::string& out, std::string_view s) {
    for (const char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\t': out += "\\t"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            default: out += c;
        }
    }
}

std::size_t category_count() noexcept { return std::size(kCategories); }

Seller make_seller(const Plan& plan, std::int64_t index) {
    Seller s;
    s.number = plan.first_seller_number + index;
    Rng rng(mix(plan.seed, 0x53454c4c4552ULL /* "SELLER" */, static_cast<std::uint64_t>(s.number)));
    // Sellers signed up 366-425 days before the anchor, i.e. before any of their products.
    s.created_ms = plan.now_ms - 366 * kMsPerDay - rng.between(0, 59 * kMsPerDay);
    s.id = uuid_v7(s.created_ms, rng);
    s.email = "seller-" + std::to_string(s.number) + "@" + std::string(kSellerEmailDomain);
    s.name = std::string(pick(rng, kShopPrefix)) + " " + std::string(pick(rng, kShopSuffix)) + " #" +
             std::to_string(s.number);
    if (rng.chance(0.7)) {
        char buf[24];
        std::snprintf(buf, sizeof buf, "010-%04d-%04d", static_cast<int>(rng.below(10000)),
                      static_cast<int>(rng.below(10000)));
        s.phone = buf;
    }
    return s;
}

Product make_product(const Plan& plan, std::int64_t index) {
    Product p;
    Rng rng(mix(plan.seed ^ 0x50524f44554354ULL /* "PRODUCT" */, static_cast<std::uint64_t>(plan.first_seller_number),
                static_cast<std::uint64_t>(index)));
    // created_at: slot `index` of [now - 365 days, now), jittered inside the slot, so increasing with index.
    const std::int64_t window = 365 * kMsPerDay;
    const std::int64_t start = plan.now_ms - window;
    const std::int64_t n = std::max<std::int64_t>(plan.products, 1);
    const auto slot_begin = static_cast<std::int64_t>(static_cast<i128>(window) * index / n);
    const auto slot_end = static_cast<std::int64_t>(static_cast<i128>(window) * (index + 1) / n);
    p.created_ms = start + slot_begin + (slot_end > slot_begin ? rng.between(0, slot_end - slot_begin - 1) : 0);
    p.id = uuid_v7(p.created_ms, rng);
    // A few sellers own most of the catalog: index = floor(S * u^2).
    const double u = rng.unit();
    p.seller_index = std::min<std::int64_t>(plan.sellers - 1, static_cast<std::int64_t>(static_cast<double>(plan.sellers) * u * u));
    const Category& c = pick_category(rng);
    const Template& t = c.templates[rng.below(c.templates.size())];
    p.category = c.name;
    Rank rank;
    p.name = expand(t.pattern, rng, &rank);
    if (rng.chance(0.2)) {
        p.name = std::string(pick(rng, kListingTags)) + " " + p.name;
    }
    p.price = price_between(rng, t.lo, t.hi, rank.value());
    // Description: one category sentence and 0-2 general ones.
    p.description = c.blurbs[rng.below(c.blurbs.size())];
    const auto extra = rng.below(3);
    const auto first = rng.below(kGeneralSentences.size());
    for (std::uint64_t k = 0; k < extra; ++k) {
        p.description += ' ';
        p.description += kGeneralSentences[(first + k * 7) % kGeneralSentences.size()];
    }
    // Stock: ~5% sold out, otherwise 1-500 with more small stocks than large ones.
    if (rng.chance(0.05)) {
        p.stock = 0;
    } else {
        const double v = rng.unit();
        p.stock = 1 + static_cast<std::int64_t>(499.0 * v * v);
    }
    p.active = !rng.chance(0.03);
    return p;
}

void append_seller_row(std::string& out, const Seller& s, std::string_view password_hash) {
    const std::string ts = timestamp_utc(s.created_ms);
    out += s.id;
    out += '\t';
    append_copy_text(out, s.email);
    out += '\t';
    append_copy_text(out, password_hash);
    out += '\t';
    append_copy_text(out, s.name);
    out += "\tSELLER\t";
    if (s.phone.empty()) {
        out += "\\N";
    } else {
        append_copy_text(out, s.phone);
    }
    for (int i = 0; i < 3; ++i) {
        out += '\t';
        out += ts;
    }
    out += '\n';
}

void append_product_row(std::string& out, const Product& p, std::string_view seller_id) {
    const std::string ts = timestamp_utc(p.created_ms);
    out += p.id;
    out += '\t';
    out += seller_id;
    out += '\t';
    append_copy_text(out, p.name);
    out += '\t';
    append_copy_text(out, p.description);
    out += '\t';
    append_int(out, p.price);
    out += "\tKRW\t";
    append_copy_text(out, p.category);
    out += '\t';
    append_int(out, p.stock);
    out += p.active ? "\tACTIVE\t1\t" : "\tINACTIVE\t1\t";
    out += ts;
    out += '\t';
    out += ts;
    out += '\n';
}

void append_movement_row(std::string& out, const Product& p) {
    out += p.id;
    out += '\t';
    append_int(out, p.stock);
    out += '\t';
    append_int(out, p.stock);
    out += "\tINITIAL\t\\N\t";
    out += timestamp_utc(p.created_ms);
    out += '\n';
}

}  // namespace om::catalog
